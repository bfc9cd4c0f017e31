// Undo steps of a multi-step change, run newest first when a later step fails. A failed undo is
// logged at error level with the ids involved and does not stop the other undos.
import type { FastifyBaseLogger } from 'fastify'

export class Rollback {
  private readonly undos: Array<{ step: string; run: () => Promise<unknown> }> = []
  /**
   * Ids logged with a failed undo (the CRUD `userId`, the `authUserId`). Each is set as soon as
   * its step has written it, so a failed undo of that very step still names it.
   */
  readonly ids: Record<string, string | undefined>

  constructor(
    private readonly log: FastifyBaseLogger,
    ids: Record<string, string | undefined> = {},
  ) {
    this.ids = { ...ids }
  }

  add(step: string, run: () => Promise<unknown>): void {
    this.undos.push({ step, run })
  }

  async run(): Promise<void> {
    for (const undo of this.undos.splice(0).reverse()) {
      try {
        await undo.run()
      } catch (error) {
        this.log.error({ err: error, undoStep: undo.step, ...this.ids }, 'rollback step failed: manual cleanup needed')
      }
    }
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
