// The Auth0 import jobs this process keeps running at once: Auth0 runs at most
// MAX_ACTIVE_IMPORT_JOBS per tenant, so the files of every activation job of the process share
// that many slots, handed out in request order. A 429 on a start (the tenant is full, maybe with
// another replica's imports) pauses every start for as long as Auth0 asks.
import { MAX_ACTIVE_IMPORT_JOBS } from '../../auth-providers/auth0-contract.js'

export interface ImportSlot {
  release(): void
}

interface Waiter {
  grant: (slot: ImportSlot | undefined) => void
  signal: AbortSignal
}

/** Shortest pause after a 429, even when `retry-after` says 0 (no busy loop). */
const MIN_PAUSE_MS = 100

export class ImportSlots {
  private active = 0
  private readonly waiting: Waiter[] = []
  private pausedUntil = 0
  private resumeTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly max = MAX_ACTIVE_IMPORT_JOBS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A slot once one is free and starts are not paused; undefined when `signal` aborts first.
   * `first`: goes before the other waiters (a start that must be tried again keeps its turn).
   */
  acquire(signal: AbortSignal, first = false): Promise<ImportSlot | undefined> {
    if (signal.aborted) return Promise.resolve(undefined)
    return new Promise((grant) => {
      const waiter: Waiter = { grant, signal }
      const onAbort = () => {
        const index = this.waiting.indexOf(waiter)
        if (index >= 0) this.waiting.splice(index, 1)
        grant(undefined)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      waiter.grant = (slot) => {
        signal.removeEventListener('abort', onAbort)
        grant(slot)
      }
      if (first) this.waiting.unshift(waiter)
      else this.waiting.push(waiter)
      this.dispatch()
    })
  }

  /** A slot taken without waiting, for an import that already runs (a resumed job's). */
  occupy(): ImportSlot {
    this.active += 1
    return this.slot()
  }

  /** Pauses every start for `ms` (after a 429). */
  pause(ms: number): void {
    const until = this.now() + Math.max(MIN_PAUSE_MS, ms)
    if (until <= this.pausedUntil) return
    this.pausedUntil = until
    clearTimeout(this.resumeTimer)
    this.resumeTimer = undefined
  }

  private slot(): ImportSlot {
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        this.active -= 1
        this.dispatch()
      },
    }
  }

  private dispatch(): void {
    const pausedFor = this.pausedUntil - this.now()
    if (pausedFor > 0) {
      // A timer may fire a little early: it checks again and waits for the rest.
      this.resumeTimer ??= setTimeout(() => {
        this.resumeTimer = undefined
        this.dispatch()
      }, pausedFor)
      this.resumeTimer.unref()
      return
    }
    while (this.active < this.max && this.waiting.length > 0) {
      const waiter = this.waiting.shift()!
      this.active += 1
      waiter.grant(this.slot())
    }
  }
}
