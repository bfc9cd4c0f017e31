// Reading the CRUD again after a write that did not say what it wrote: inserted users are found
// again by content after an ordered `POST /bulk` refused with 409 (the rows before the offending
// one were written) and after an insert whose answer was lost; a patch whose answer was lost is
// looked for in the user. Every document of one insert request carries the same `createdAt`, so
// the newest unknown document matching the first row gives that instant, and the documents
// created at that instant are matched to the rows in order until one row has no match.
import type { CallContext } from '../../clients/http.js'
import { ALL_STATES, type CrudCollection, type CrudDocument, type CrudUpdate } from '../../clients/crud.js'
import { UpstreamError } from '../../errors/index.js'
import { settleLostWrite, type LostWriteOptions } from '../lost-writes.js'
import { applyPatch, patchedPaths, type UserPatch } from './fields.js'
import { isPlainObject } from '../../lib/plain-object.js'

/** How far the CRUD's clock (its `createdAt`) may be behind ours. */
export const CLOCK_SLACK_MS = 2_000

const PAGE = 200
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/

/** Equal as the CRUD Service stores it: dates by instant, scalars the CRUD may have coerced by text. */
export function sameValue(written: unknown, stored: unknown): boolean {
  if (Array.isArray(written)) {
    return Array.isArray(stored) && written.length === stored.length && written.every((item, index) => sameValue(item, stored[index]))
  }
  if (isPlainObject(written, 'not-date')) {
    return isPlainObject(stored, 'not-date') && Object.entries(written).every(([key, value]) => sameValue(value, stored[key]))
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
 * The ids of the leading rows of `batch` that a refused (or unanswered) ordered insert did write, in order.
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

/**
 * Inserts one user and answers its id. When the answer is lost, the user is looked for by content
 * among the documents created since the call: found, it is the one inserted.
 */
export async function insertUser(users: CrudCollection, document: Record<string, unknown>, ctx: CallContext, known: ReadonlySet<string> = new Set()): Promise<string> {
  const sentAt = Date.now()
  try {
    return await users.insert(document, ctx)
  } catch (error) {
    return settleLostWrite(error, ctx.log, async () => {
      const [id] = await insertedPrefix(users, [document], known, new Date(sentAt - CLOCK_SLACK_MS), ctx)
      return id
    })
  }
}

/**
 * Patches one user (any state); undefined when it does not exist. When the answer is lost, the
 * user is read again: the patch landed when `landed` says so of the stored user.
 */
export async function patchUserReadBack<T extends CrudDocument = CrudDocument>(
  users: CrudCollection,
  id: string,
  update: CrudUpdate,
  landed: (stored: T) => boolean,
  ctx: CallContext,
  options: LostWriteOptions = {},
): Promise<T | undefined> {
  try {
    return await users.patchById<T>(id, update, ctx)
  } catch (error) {
    return settleLostWrite(
      error,
      ctx.log,
      async () => {
        const stored = await users.getById<T>(id, ctx)
        return stored !== undefined && landed(stored) ? stored : undefined
      },
      options,
    )
  }
}

/** Whether a `$set`/`$unset` patch shows in the stored user. */
export function showsPatch(patch: Pick<CrudUpdate, '$set' | '$unset'>, stored: Record<string, unknown>): boolean {
  return storedAs(patch.$set ?? {}, stored) && Object.keys(patch.$unset ?? {}).every((field) => stored[field] === undefined)
}

/**
 * Whether the stored user shows `update` applied to `before`: written since (`updatedAt` moved)
 * and every top-level field the update touches as predicted (`$currentDate` fields aside).
 */
export function showsUpdate(before: CrudDocument, update: UserPatch, stored: Record<string, unknown>): boolean {
  if (before.updatedAt !== undefined && stored.updatedAt === before.updatedAt) return false
  const predicted = applyPatch(before, update)
  const rootOf = (path: string) => path.split('.')[0]!
  const dated = new Set(Object.keys(update.$currentDate ?? {}).map(rootOf))
  const roots = new Set(patchedPaths(update).map(rootOf))
  return [...roots].every((root) => dated.has(root) || sameValue(predicted[root], stored[root]))
}
