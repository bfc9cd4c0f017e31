// Polling a started Auth0 import job every AUTH0_JOB_POLLING_INTERVAL until it completes, then
// reading its per-user errors. A failed poll or errors read is retried at the next tick, for as
// long as Auth0 keeps the job's data.
import type { ImportError, ImportJob } from '../../auth-providers/provider.js'
import { UpstreamError } from '../../errors/index.js'
import type { FileRun } from './file-run.js'
import { fileEnded, type FileState } from './journal.js'
import { ACTIVATION_ERROR_CODES } from './result.js'

/** Auth0 deletes job data 24 hours after creation: a job still unreadable after this is given up. */
export const GIVE_UP_AFTER_MS = 25 * 60 * 60 * 1000

function givenUp(file: FileState): boolean {
  return file.startedAt !== undefined && Date.now() - file.startedAt > GIVE_UP_AFTER_MS
}

/** The import job once completed; undefined when the file ended otherwise or the run stops. */
export async function pollUntilCompleted(run: FileRun, file: FileState, pollAtOnce: boolean): Promise<ImportJob | undefined> {
  const auth0JobId = file.auth0JobId!
  for (let first = true; ; first = false) {
    if (!(first && pollAtOnce)) await run.sleepUntilNextTick()
    if (run.signal.aborted) return undefined
    let job: ImportJob
    try {
      job = await run.auth.getImportJob(auth0JobId, run.ctx)
    } catch (error) {
      if (error instanceof UpstreamError && error.status === 404) {
        await run.record(fileEnded(file, { code: ACTIVATION_ERROR_CODES.importJobNotFound, message: `The auth import job ${auth0JobId} no longer exists` }))
        return undefined
      }
      if (givenUp(file)) {
        await run.record(fileEnded(file, { code: ACTIVATION_ERROR_CODES.importJobUnreachable, message: `The auth import job ${auth0JobId} could not be read for too long` }))
        return undefined
      }
      run.ctx.log.warn({ err: error, auth0JobId }, 'bulk activation: poll failed, retrying at the next tick')
      continue
    }
    if (job.status === 'completed') return job
    if (job.status === 'failed' || job.status === 'expired') {
      run.ctx.log.error({ auth0JobId, status: job.status }, 'bulk activation: import job did not complete')
      const code = job.status === 'failed' ? ACTIVATION_ERROR_CODES.importJobFailed : ACTIVATION_ERROR_CODES.importJobExpired
      await run.record(fileEnded(file, { code, message: `The auth import job ${auth0JobId} ended ${job.status}: none of its users was activated` }))
      return undefined
    }
    if (givenUp(file)) {
      await run.record(fileEnded(file, { code: ACTIVATION_ERROR_CODES.importJobUnreachable, message: `The auth import job ${auth0JobId} did not finish in time` }))
      return undefined
    }
  }
}

/** The per-user errors of the completed import; undefined when the file ended otherwise or the run stops. */
export async function readImportErrors(run: FileRun, file: FileState): Promise<ImportError[] | undefined> {
  const auth0JobId = file.auth0JobId!
  for (let first = true; ; first = false) {
    if (!first) await run.sleepUntilNextTick()
    if (run.signal.aborted) return undefined
    try {
      return await run.auth.getImportErrors(auth0JobId, run.ctx)
    } catch (error) {
      if (error instanceof UpstreamError && error.status === 404) {
        await run.record(fileEnded(file, { code: ACTIVATION_ERROR_CODES.importJobNotFound, message: `The auth import job ${auth0JobId} no longer exists` }))
        return undefined
      }
      if (givenUp(file)) {
        await run.record(fileEnded(file, { code: ACTIVATION_ERROR_CODES.importJobUnreachable, message: `The errors of auth import job ${auth0JobId} could not be read for too long` }))
        return undefined
      }
      run.ctx.log.warn({ err: error, auth0JobId }, 'bulk activation: reading the import errors failed, retrying at the next tick')
    }
  }
}
