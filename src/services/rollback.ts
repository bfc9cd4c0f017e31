// Undo steps of a multi-step change, run newest first when a later step fails. A failed undo is
// logged at error level with the ids involved and does not stop the other undos. Each rollback is
// counted (ums_rollbacks_total) by operation and result, `undo_failed` being what pages an operator.
import type { FastifyBaseLogger } from 'fastify'
import { countRollback } from '../observability/metrics.js'

export class Rollback {
  private readonly undos: Array<{ step: string; run: () => Promise<unknown> }> = []
  /**
   * Ids logged with a failed undo (the CRUD `userId`, the `authUserId`). Each is set as soon as
   * its step has written it, so a failed undo of that very step still names it.
   */
  readonly ids: Record<string, string | undefined>

  /**
   * `operation` names the change in the metrics: the operationId of its route (`createUser`,
   * `updateUser`...) or the job kind, never anything about the user.
   */
  constructor(
    private readonly operation: string,
    private readonly log: FastifyBaseLogger,
    ids: Record<string, string | undefined> = {},
  ) {
    this.ids = { ...ids }
  }

  add(step: string, run: () => Promise<unknown>): void {
    this.undos.push({ step, run })
  }

  /** Runs the undos registered so far; a failure before any step wrote something is not a rollback. */
  async run(): Promise<void> {
    const undos = this.undos.splice(0).reverse()
    if (undos.length === 0) return
    let failed = false
    for (const undo of undos) {
      try {
        await undo.run()
      } catch (error) {
        failed = true
        this.log.error({ err: error, undoStep: undo.step, ...this.ids }, 'rollback step failed: manual cleanup needed')
      }
    }
    countRollback(this.operation, failed ? 'undo_failed' : 'undone')
  }

  /** Runs `work`; on failure undoes every registered step, then rethrows the original error. */
  async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work()
    } catch (error) {
      await this.run()
      throw error
    }
  }
}

/**
 * Runs steps that do not depend on each other side by side, and waits for every one to end, so
 * that each registers its undo before anything is undone. Throws the failure of the first failed
 * step in the order given.
 */
export async function sideBySide<T extends readonly unknown[]>(...steps: { [K in keyof T]: () => Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(steps.map((step) => step()))
  const failed = settled.find((outcome) => outcome.status === 'rejected')
  if (failed) throw failed.reason
  return settled.map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value) as unknown as T
}
