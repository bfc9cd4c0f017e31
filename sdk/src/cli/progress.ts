// Progress of long work on stderr: on a terminal a bar (cli-progress) redrawn in place with the
// rate and the time left; elsewhere (a pipe, a log file) one line every few seconds, so stdout
// keeps the result alone.
import cliProgress from 'cli-progress'

export interface ProgressStream {
  write(text: string): unknown
  isTTY?: boolean
}

export interface ProgressOptions {
  /** What is measured: `change-password`, `upload`, ... */
  label: string
  /** Items counted, or bytes (shown as KiB/MiB). */
  unit: 'items' | 'bytes'
  stream: ProgressStream
  /** Draw a bar; lines otherwise. */
  tty: boolean
  /** Least time between two lines off a terminal. */
  lineIntervalMs?: number
  now?: () => number
}

export interface Reporter {
  /** `note`: what else the work reports, shown after the figures (e.g. `pages 3, findings 2`). */
  update(done: number, total: number, note?: string): void
  /** Draws the last state and stops (the bar stays on screen). */
  stop(): void
}

/** The window the rate is measured over: recent enough to follow a change of pace. */
const RATE_WINDOW_MS = 10_000
export const LINE_INTERVAL_MS = 5_000

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  const total = Math.ceil(seconds)
  if (total < 60) return `${total}s`
  if (total < 3600) return `${Math.floor(total / 60)}m ${String(total % 60).padStart(2, '0')}s`
  return `${Math.floor(total / 3600)}h ${String(Math.floor((total % 3600) / 60)).padStart(2, '0')}m`
}

/** Done per second over the last RATE_WINDOW_MS, and what is left at that rate. */
class RateMeter {
  private readonly samples: Array<{ at: number; done: number }> = []

  add(at: number, done: number): void {
    this.samples.push({ at, done })
    while (this.samples.length > 2 && at - this.samples[0]!.at > RATE_WINDOW_MS) this.samples.shift()
  }

  perSecond(): number {
    const first = this.samples[0]
    const last = this.samples[this.samples.length - 1]
    if (!first || !last || last.at === first.at) return 0
    return ((last.done - first.done) * 1000) / (last.at - first.at)
  }
}

export function progressReporter(options: ProgressOptions): Reporter {
  const { label, unit, stream, tty, lineIntervalMs = LINE_INTERVAL_MS, now = Date.now } = options
  const rate = new RateMeter()
  const amount = (value: number) => (unit === 'bytes' ? formatBytes(value) : String(value))
  let last = { done: 0, total: 0 }
  let note = ''

  const figures = (done: number, total: number) => {
    const perSecond = rate.perSecond()
    const left = total - done
    return {
      label,
      amount: `${amount(done)}/${amount(total)}`,
      percent: total > 0 ? Math.floor((done / total) * 100) : 0,
      speed: `${unit === 'bytes' ? formatBytes(Math.round(perSecond)) : perSecond.toFixed(1)}/s`,
      etaText: left <= 0 ? '0s' : formatDuration(perSecond > 0 ? left / perSecond : Infinity),
      note: note === '' ? '' : ` | ${note}`,
    }
  }

  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        stream: stream as NodeJS.WritableStream,
        format: '{label} {bar} {amount} {percentage}% | {speed} | ETA {etaText}{note}',
        barsize: 30,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        // The state is known only as often as it is read: a redraw per update is enough.
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    )
    let started = false
    return {
      update(done, total, latestNote = '') {
        rate.add(now(), done)
        last = { done, total }
        note = latestNote
        const payload = figures(done, total)
        if (!started) {
          bar.start(Math.max(total, 1), done, payload)
          started = true
          return
        }
        if (total !== bar.getTotal()) bar.setTotal(Math.max(total, 1))
        bar.update(done, payload)
      },
      stop() {
        if (!started) return
        bar.update(last.done, figures(last.done, last.total))
        bar.stop()
      },
    }
  }

  let lastLineAt: number | undefined
  let lastLine = ''
  const writeLine = () => {
    const { amount: shown, percent, speed, etaText } = figures(last.done, last.total)
    const line = `${label}: ${shown} (${percent}%), ${speed}, ETA ${etaText}${note === '' ? '' : `, ${note}`}`
    if (line === lastLine) return
    stream.write(`${line}\n`)
    lastLine = line
  }
  return {
    update(done, total, latestNote = '') {
      const at = now()
      rate.add(at, done)
      last = { done, total }
      note = latestNote
      if (lastLineAt !== undefined && at - lastLineAt < lineIntervalMs) return
      lastLineAt = at
      writeLine()
    },
    stop() {
      if (lastLineAt !== undefined) writeLine()
    },
  }
}
