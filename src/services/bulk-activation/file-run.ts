// What the steps of one file (starting.ts, polling.ts) use of the activation run that drives it.
import type { AuthProvider } from '../../auth-providers/provider.js'
import type { CallContext } from '../../clients/http.js'
import type { ImportSlots } from './import-slots.js'
import type { ActivationEntry } from './journal.js'
import type { LinkingDeps } from './linking.js'

export interface FileRun {
  auth: AuthProvider
  /** The import slots of the process. */
  slots: ImportSlots
  linking: LinkingDeps
  /** `nowMs → next poll time` (AUTH0_JOB_POLLING_INTERVAL). */
  nextPollAt: (nowMs: number) => number
  jobId: string
  upsert: boolean
  ctx: CallContext
  /** Stops every file of the run: the engine's signal, or a checkpoint the store refused. */
  signal: AbortSignal
  /** Checkpoints `entry`, then applies it to the run's state. */
  record(entry: ActivationEntry): Promise<void>
  /** Resolves at the next poll time, or as soon as the run stops. */
  sleepUntilNextTick(): Promise<void>
}
