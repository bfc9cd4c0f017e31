import { describe, expect, it } from 'vitest'
import { Pacer } from '../../src/services/change-password-bulk/pacer.js'

/** A clock whose sleeps take `lateMs` longer than asked, as a busy event loop makes them. */
function clock() {
  const state = { time: 0, lateMs: 0 }
  return {
    state,
    now: () => state.time,
    sleep: async (ms: number) => {
      state.time += ms + state.lateMs
    },
  }
}

async function slots(pacer: Pacer, fake: ReturnType<typeof clock>, count: number): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i < count; i += 1) {
    await pacer.slot()
    times.push(fake.state.time)
  }
  return times
}

describe('Pacer', () => {
  it('spaces slots 1000 / rate ms apart', async () => {
    const fake = clock()
    expect(await slots(new Pacer(10, fake), fake, 4)).toEqual([0, 100, 200, 300])
  })

  it('keeps the rate when timers fire slightly late', async () => {
    const fake = clock()
    fake.state.lateMs = 2
    expect(await slots(new Pacer(10, fake), fake, 4)).toEqual([0, 102, 202, 302])
  })

  it('does not catch up a very late slot with a back-to-back send', async () => {
    const fake = clock()
    const pacer = new Pacer(10, fake)
    await pacer.slot()
    fake.state.lateMs = 80
    await pacer.slot()
    expect(fake.state.time).toBe(180)
    fake.state.lateMs = 0
    await pacer.slot()
    // Not at 200 (20 ms after the late one) but half an interval after it.
    expect(fake.state.time).toBe(230)
  })

  it('waits out a pause asked by a 429', async () => {
    const fake = clock()
    const pacer = new Pacer(10, fake)
    await pacer.slot()
    pacer.pauseFor(1000)
    await pacer.slot()
    expect(fake.state.time).toBe(1000)
  })
})
