// The progress display off a terminal, on a clock the test moves: one line at the first update, then
// at most one every few seconds, the rate over the last seconds and the time left at that rate.
import { describe, expect, it } from 'vitest'
import { LINE_INTERVAL_MS, formatBytes, formatDuration, progressReporter } from '../../sdk/src/cli/progress.js'

function lines(options: { unit?: 'items' | 'bytes' } = {}) {
  let now = 0
  const written: string[] = []
  const reporter = progressReporter({ label: 'change-password', unit: options.unit ?? 'items', stream: { write: (text: string) => written.push(text) }, tty: false, now: () => now })
  return { reporter, written, at: (ms: number) => (now = ms) }
}

describe('progress off a terminal', () => {
  it('writes a line at the first update, then one every LINE_INTERVAL_MS at most, and the last state at stop', () => {
    const { reporter, written, at } = lines()
    reporter.update(0, 100)
    at(1_000)
    reporter.update(10, 100)
    at(LINE_INTERVAL_MS - 1)
    reporter.update(49, 100)
    at(LINE_INTERVAL_MS)
    reporter.update(50, 100)
    at(LINE_INTERVAL_MS + 2_000)
    reporter.update(70, 100)
    reporter.stop()
    expect(written).toEqual([
      'change-password: 0/100 (0%), 0.0/s, ETA ?\n',
      'change-password: 50/100 (50%), 10.0/s, ETA 5s\n',
      'change-password: 70/100 (70%), 10.0/s, ETA 3s\n',
    ])
  })

  it('writes what else the work reports after the figures, as the latest update said it', () => {
    const { reporter, written, at } = lines()
    reporter.update(0, 100, 'pages 0, findings 0')
    at(LINE_INTERVAL_MS)
    reporter.update(50, 100, 'pages 2, findings 3')
    at(LINE_INTERVAL_MS * 2)
    reporter.update(100, 100)
    reporter.stop()
    expect(written).toEqual([
      'change-password: 0/100 (0%), 0.0/s, ETA ?, pages 0, findings 0\n',
      'change-password: 50/100 (50%), 10.0/s, ETA 5s, pages 2, findings 3\n',
      'change-password: 100/100 (100%), 10.0/s, ETA 0s\n',
    ])
  })

  it('measures the rate over the last ten seconds, so the time left follows a change of pace', () => {
    const { reporter, written, at } = lines()
    // 1/s for 20 s, then 10/s.
    for (let second = 0; second <= 20; second += 1) {
      at(second * 1_000)
      reporter.update(second, 1_000)
    }
    for (let second = 21; second <= 31; second += 1) {
      at(second * 1_000)
      reporter.update(20 + (second - 20) * 10, 1_000)
    }
    // The line at 30 s: over the whole run the rate would be 4/s.
    expect(written.at(-1)).toBe('change-password: 120/1000 (12%), 10.0/s, ETA 1m 28s\n')
  })

  it('writes nothing when nothing was reported, and no line twice', () => {
    const silent = lines()
    silent.reporter.stop()
    expect(silent.written).toEqual([])

    const { reporter, written, at } = lines()
    reporter.update(5, 5)
    at(10_000)
    reporter.stop()
    expect(written).toEqual(['change-password: 5/5 (100%), 0.0/s, ETA 0s\n'])
  })

  it('shows bytes in B, KiB and MiB', () => {
    const { reporter, written, at } = lines({ unit: 'bytes' })
    reporter.update(0, 3 * 1024 * 1024)
    at(2_000)
    reporter.update(1024 * 1024, 3 * 1024 * 1024)
    reporter.stop()
    expect(written).toEqual(['change-password: 0 B/3.0 MiB (0%), 0 B/s, ETA ?\n', 'change-password: 1.0 MiB/3.0 MiB (33%), 512.0 KiB/s, ETA 4s\n'])
  })
})

describe('formats', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KiB'],
    [5 * 1024 * 1024, '5.0 MiB'],
  ])('formatBytes(%d) is %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text)
  })

  it.each([
    [0.2, '1s'],
    [59, '59s'],
    [60, '1m 00s'],
    [1_234, '20m 34s'],
    [7_300, '2h 01m'],
    [Infinity, '?'],
  ])('formatDuration(%d) is %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text)
  })
})
