// The pace of the change-password job: send slots `1000 / rate` ms apart, pushed back by a 429.
import { sleep } from '../../lib/sleep.js'

/**
 * Hands out send slots `1000 / rate` ms apart; a 429 pushes the next slot back. A slot whose
 * timer fired late is not caught up with a back-to-back send: the next one stays at least half an
 * interval away (a provider's bucket with a small burst would answer it 429).
 */
export class Pacer {
  private nextSlot = 0
  private readonly intervalMs: number

  constructor(
    ratePerSecond: number,
    private readonly clock: { now: () => number; sleep: (ms: number) => Promise<unknown> } = { now: Date.now, sleep },
  ) {
    this.intervalMs = 1000 / ratePerSecond
  }

  async slot(): Promise<void> {
    const now = this.clock.now()
    const at = Math.max(now, this.nextSlot)
    this.nextSlot = at + this.intervalMs
    if (at > now) await this.clock.sleep(at - now)
    this.nextSlot = Math.max(this.nextSlot, this.clock.now() + this.intervalMs / 2)
  }

  pauseFor(ms: number): void {
    this.nextSlot = Math.max(this.nextSlot, this.clock.now() + ms)
  }
}
