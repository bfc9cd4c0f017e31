// After a CRUD `POST /bulk` refused with 409: the insert is ordered, so the rows before the
// offending one were written, but the answer does not say how many nor their ids. They are found
// again by content: every document of one bulk insert carries the same `createdAt`, so the newest
// unknown document matching the first row gives that instant, and the documents created at that
// instant are matched to the rows in order until one row has no match.
import type { CallContext } from '../../clients/http.js'
import { ALL_STATES, type CrudCollection, type CrudDocument } from '../../clients/crud.js'
import { UpstreamError } from '../../errors.js'
import { isPlainObject } from '../users/fields.js'

const PAGE = 200
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/

/** Equal as the CRUD Service stores it: dates by instant, scalars the CRUD may have coerced by text. */
export function sameValue(written: unknown, stored: unknown): boolean {
  if (Array.isArray(written)) {
    return Array.isArray(stored) && written.length === stored.length && written.every((item, index) => sameValue(item, stored[index]))
  }
  if (isPlainObject(written)) {
    return isPlainObject(stored) && Object.entries(written).every(([key, value]) => sameValue(value, stored[key]))
  }
  if (written === stored) return true
  if (written === undefined || written === null || stored === undefined || stored === null) return false
  if (typeof written === 'string' && typeof stored === 'string' && ISO_DATE.test(written) && ISO_DATE.test(stored)) {
    return Date.parse(written) === Date.parse(stored)
  }
  return String(written) === String(stored)
}

/** Whether `doc` is what the CRUD stored for `user` (`__STATE__` aside). */
export function storedAs(user: Record<string, unknown>, doc: Record<string, unknown>): boolean {
  return Object.entries(user).every(([field, value]) => field === '__STATE__' || sameValue(value, doc[field]))
}

/** Plain scalar fields of a row, usable as `_q` equality conditions without any conversion. */
function equalityConditions(user: Record<string, unknown>): Record<string, unknown> {
  const conditions: Record<string, unknown> = {}
  for (const [field, value] of Object.entries(user)) {
    if (field === '__STATE__') continue
    if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) conditions[field] = value
    else if (typeof value === 'string' && !ISO_DATE.test(value)) conditions[field] = value
  }
  return conditions
}

async function listAll(users: CrudCollection, filter: Record<string, unknown>, sort: string, maxPages: number, ctx: CallContext): Promise<CrudDocument[]> {
  const docs: CrudDocument[] = []
  for (let page = 0; page < maxPages; page += 1) {
    const items = await users.list({ _q: JSON.stringify(filter), _st: ALL_STATES, _s: sort, _l: PAGE, _sk: page * PAGE }, ctx)
    docs.push(...items)
    if (items.length < PAGE) break
  }
  return docs
}

/** Candidates for the first row: created since `since`, newest first, by its plain fields when the CRUD takes them. */
async function firstRowCandidates(users: CrudCollection, user: Record<string, unknown>, since: Date, ctx: CallContext): Promise<CrudDocument[]> {
  const recent = { createdAt: { $gte: since.toISOString() } }
  try {
    return await listAll(users, { ...equalityConditions(user), ...recent }, '-createdAt', 5, ctx)
  } catch (error) {
    // A CRUD whose field types differ from the group schema may refuse the conditions: recent documents only.
    if (!(error instanceof UpstreamError) || error.status !== 400) throw error
    return listAll(users, recent, '-createdAt', 5, ctx)
  }
}

/**
 * The ids of the leading rows of `batch` that a refused ordered bulk insert did write, in order.
 * `known` holds the ids this import already accounts for; `since` is a lower bound of the
 * documents' `createdAt` (the send time, minus clock slack).
 */
export async function insertedPrefix(
  users: CrudCollection,
  batch: Array<Record<string, unknown>>,
  known: ReadonlySet<string>,
  since: Date,
  ctx: CallContext,
): Promise<string[]> {
  const [first] = batch
  if (!first) return []
  const candidates = await firstRowCandidates(users, first, since, ctx)
  const anchor = candidates.find((doc) => !known.has(doc._id) && storedAs(first, doc))
  if (!anchor || typeof anchor.createdAt !== 'string') return []
  const sameRequest = await listAll(users, { createdAt: anchor.createdAt }, '_id', Math.ceil(batch.length / PAGE) + 1, ctx)
  const unused = sameRequest.filter((doc) => !known.has(doc._id))
  const ids: string[] = []
  for (const user of batch) {
    const index = unused.findIndex((doc) => storedAs(user, doc))
    if (index === -1) break
    ids.push(unused[index]!._id)
    unused.splice(index, 1)
  }
  return ids
}
