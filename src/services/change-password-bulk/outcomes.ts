// The journal of a change-password job: which auth users got their email and which failed. It is
// what a resumed run trusts: an id recorded here is never sent again.

export interface ChangePasswordFailure {
  authUserId: string
  message: string
}

/** One journal entry: the outcomes of one batch. */
export interface OutcomesEntry {
  completed: string[]
  failures: ChangePasswordFailure[]
}

export type Outcome = { authUserId: string; failure?: undefined } | { authUserId: string; failure: string }

/** The outcomes recorded so far, in the order they were recorded. */
export class Outcomes {
  readonly completed: string[] = []
  readonly failures: ChangePasswordFailure[] = []
  private readonly settled = new Set<string>()

  constructor(entries: readonly unknown[] = []) {
    for (const entry of entries) this.apply(entry as OutcomesEntry)
  }

  apply(entry: OutcomesEntry): void {
    for (const authUserId of entry.completed) {
      if (this.settled.has(authUserId)) continue
      this.settled.add(authUserId)
      this.completed.push(authUserId)
    }
    for (const failure of entry.failures) {
      if (this.settled.has(failure.authUserId)) continue
      this.settled.add(failure.authUserId)
      this.failures.push(failure)
    }
  }

  has(authUserId: string): boolean {
    return this.settled.has(authUserId)
  }

  get size(): number {
    return this.settled.size
  }
}

/** How long outcomes wait to share one journal write. */
export const RECORD_BATCH_DELAY_MS = 100

/**
 * Writes outcomes to the journal in batches, one write at a time. `record()` settles once the
 * outcome is written: until then its send counts as in flight (a crash may repeat it). After a
 * failed write every later `record()` rejects: the run must stop and resume from the journal.
 */
export class OutcomeRecorder {
  private batch: OutcomesEntry = { completed: [], failures: [] }
  private waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = []
  private timer: NodeJS.Timeout | undefined
  private draining = false
  private failure: unknown

  constructor(
    private readonly write: (entry: OutcomesEntry) => Promise<void>,
    private readonly outcomes: Outcomes,
    private readonly delayMs = RECORD_BATCH_DELAY_MS,
  ) {}

  record(outcome: Outcome): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    if (outcome.failure === undefined) this.batch.completed.push(outcome.authUserId)
    else this.batch.failures.push({ authUserId: outcome.authUserId, message: outcome.failure })
    const written = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }))
    if (!this.draining && this.timer === undefined) this.timer = setTimeout(() => void this.drain(), this.delayMs)
    return written
  }

  private async drain(): Promise<void> {
    this.timer = undefined
    this.draining = true
    while (this.waiters.length > 0) {
      const entry = this.batch
      const waiters = this.waiters
      this.batch = { completed: [], failures: [] }
      this.waiters = []
      try {
        await this.write(entry)
        this.outcomes.apply(entry)
        for (const waiter of waiters) waiter.resolve()
      } catch (error) {
        this.failure = error
        for (const waiter of [...waiters, ...this.waiters]) waiter.reject(error)
        this.waiters = []
      }
    }
    this.draining = false
  }
}
