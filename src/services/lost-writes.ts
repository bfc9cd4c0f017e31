// A write whose answer was lost (timed out, connection reset after the request went out) may have
// been carried out by the peer all the same. Before undoing it or reporting a failure, the service
// reads the peer again: a write that landed is treated as done, one that did not as failed. When
// that read fails too, nobody can tell yet: the write is treated as failed, and the caller may
// register an undo that is harmless either way; what is left is for reconciliation.
import type { FastifyBaseLogger } from 'fastify'
import { mayHaveLanded, type UpstreamError } from '../errors/index.js'
import { countUnconfirmedWrite } from '../observability/metrics.js'

export interface LostWriteOptions {
  /** Runs when the read back fails as well (e.g. to register an undo that is safe either way). */
  onUnknown?: () => void
}

/**
 * Settles the failure of a write: `error` is rethrown at once unless the write may have landed;
 * then `readBack` answers what the write produced when it landed, or undefined when it did not.
 */
export async function settleLostWrite<T>(
  error: unknown,
  log: FastifyBaseLogger,
  readBack: () => Promise<T | undefined>,
  options: LostWriteOptions = {},
): Promise<T> {
  if (!mayHaveLanded(error)) throw error
  const lost: UpstreamError = error
  let found: T | undefined
  try {
    found = await readBack()
  } catch (readError) {
    countUnconfirmedWrite(lost.service, 'unknown')
    log.error({ err: readError, call: lost.message }, 'a write whose answer was lost could not be read back: it may have landed')
    options.onUnknown?.()
    throw lost
  }
  if (found === undefined) {
    countUnconfirmedWrite(lost.service, 'not_landed')
    log.warn({ call: lost.message }, 'a write whose answer was lost did not land')
    throw lost
  }
  countUnconfirmedWrite(lost.service, 'landed')
  log.warn({ call: lost.message }, 'a write whose answer was lost landed: carrying on')
  return found
}

/**
 * Runs an idempotent write (aborting a timer, revoking a subject's bindings); when its answer is
 * lost, sends it once more: its answer settles it either way. A second failure is the first's.
 */
export async function repeatIfLost<T>(write: () => Promise<T>, log: FastifyBaseLogger): Promise<T> {
  try {
    return await write()
  } catch (error) {
    if (!mayHaveLanded(error)) throw error
    log.warn({ call: error.message }, 'an idempotent write whose answer was lost: sent again')
    try {
      return await write()
    } catch {
      throw error
    }
  }
}
