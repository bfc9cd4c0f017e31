// Starting the Auth0 import of a file within the process's import slots (import-slots.ts). A
// start whose answer was lost may have created the import: before starting the file again, the
// users it may have created are looked up by their generated ids and linked.
//
// A failed start is retried (429: after `retry-after`, else at the next tick; 5xx/transport: up to
// MAX_START_ATTEMPTS); any other 4xx fails the file.
import { UpstreamError } from '../../errors/index.js'
import { JobStoreWriteError } from '../../jobs/engine.js'
import { messageOf } from '../../lib/message-of.js'
import type { FileRun } from './file-run.js'
import type { ImportSlot } from './import-slots.js'
import { fileEnded, usersToImport, type FileState } from './journal.js'
import { existingGeneratedIds, writeAuthLinks } from './linking.js'
import { generatedAuthId } from './resolve.js'
import { ACTIVATION_ERROR_CODES } from './result.js'

/** Starts of one file that fail with a 5xx or a transport error before its users are failed. */
export const MAX_START_ATTEMPTS = 3

/**
 * Starts the file's import within a slot and checkpoints its Auth0 job id; returns the slot,
 * or undefined when the file ended without an import (failed, or wholly recovered) or the run
 * stops.
 */
export async function startImport(run: FileRun, file: FileState): Promise<ImportSlot | undefined> {
  const { slots, ctx } = run
  let attempts = 0
  let first = false
  for (;;) {
    const slot = await slots.acquire(run.signal, first)
    if (!slot) return undefined
    first = false
    if (file.startUnconfirmed && !(await recoverLostStart(run, file))) {
      slot.release()
      await run.sleepUntilNextTick()
      continue
    }
    const users = usersToImport(file)
    if (users.length === 0) {
      slot.release()
      await run.record(fileEnded(file, undefined))
      return undefined
    }
    await run.record({ type: 'import-starting', file: file.index })
    attempts += 1
    let error: unknown
    try {
      const job = await run.auth.startImport({ users, upsert: run.upsert, externalId: run.jobId }, ctx)
      if (typeof job?.id === 'string' && job.id !== '') {
        await run.record({ type: 'import-started', file: file.index, auth0JobId: job.id, startedAt: Date.now() })
        ctx.log.info({ auth0JobId: job.id, users: users.length }, 'bulk activation: import job started')
        return slot
      }
      error = new Error('the import answer carries no job id')
    } catch (caught) {
      if (caught instanceof JobStoreWriteError) {
        slot.release()
        throw caught
      }
      error = caught
    }
    slot.release()
    const status = error instanceof UpstreamError ? error.status : undefined
    // An answered start created nothing; a start without an answer may have.
    if (status !== undefined) file.startUnconfirmed = false
    if (status === 429) {
      // The tenant runs as many import jobs as it may (ours or another replica's): not an attempt.
      attempts -= 1
      first = true
      slots.pause((error as UpstreamError).retryAfterMs ?? run.nextPollAt(Date.now()) - Date.now())
    } else if (status !== undefined && status >= 400 && status < 500) {
      ctx.log.error({ err: error }, 'bulk activation: import refused')
      await run.record(fileEnded(file, { code: ACTIVATION_ERROR_CODES.importRejected, message: `The auth service refused the import: ${messageOf(error, 'unknown error')}` }))
      return undefined
    } else if (attempts < MAX_START_ATTEMPTS) {
      ctx.log.warn({ err: error }, 'bulk activation: import start failed, retrying at the next tick')
      await run.sleepUntilNextTick()
    } else {
      ctx.log.error({ err: error }, 'bulk activation: import start failed')
      if (file.startUnconfirmed) await recoverLostStart(run, file)
      await run.record(fileEnded(file, { code: ACTIVATION_ERROR_CODES.importStartFailed, message: `The import could not be started: ${messageOf(error, 'unknown error')}` }))
      return undefined
    }
  }
}

/**
 * After a start whose answer was lost: links the users that import created (found by their
 * generated ids) so that they are not imported again. False when the lookup failed.
 */
async function recoverLostStart(run: FileRun, file: FileState): Promise<boolean> {
  const { ctx } = run
  let found: Set<string>
  try {
    found = await existingGeneratedIds(run.auth, usersToImport(file).map((user) => user.user_id), ctx)
  } catch (error) {
    ctx.log.warn({ err: error }, 'bulk activation: cannot look up the users of an unconfirmed import')
    return false
  }
  const links = [...found].map((id) => ({ crudId: file.crudIds.get(id)!, authUserId: generatedAuthId(id) }))
  const written = await writeAuthLinks(run.linking, links, new Set(), ctx)
  ctx.log.warn({ file: file.index, found: found.size }, 'bulk activation: an import start got no answer; users it created are linked')
  await run.record({ type: 'import-recovered', file: file.index, found: [...found], inserted: written.linked, failures: written.failures })
  return true
}
