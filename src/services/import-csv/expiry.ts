// Expiry timers of imported users (Beyond the original, which ignored `expirationDate`), as
// POST /users/ and PATCH /users/:id do: inserted users get a timer and its `expirationId`;
// patched users whose date changes get a new timer in the same `$set`, the old one aborted after.
import type { CallContext } from '../../clients/http.js'
import { ALL_STATES } from '../../clients/crud.js'
import { Rollback } from '../rollback.js'
import { expirationOf, scheduleExpiry, type UsersDeps } from '../users/context.js'
import type { ImportRow } from './rows.js'

/** Timer calls of one batch running at once. */
const TIMER_CONCURRENCY = 16

export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const item = items[next]!
      next += 1
      await work(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

function expiringRows<T extends { row: ImportRow }>(deps: UsersDeps, entries: readonly T[]): Array<T & { expiresAt: Date }> {
  if (!deps.timer) return []
  return entries.flatMap((entry) => {
    const expiresAt = expirationOf(entry.row.user.expirationDate)
    return expiresAt ? [{ ...entry, expiresAt }] : []
  })
}

/**
 * Timers for freshly inserted users, then their `expirationId`s in one `PATCH /bulk`. On failure
 * the timers are aborted and the batch's expiring users deleted again, so no imported user keeps
 * an `expirationDate` that nothing enforces; then the error propagates.
 */
export async function scheduleInserted(deps: UsersDeps, inserted: ReadonlyArray<{ row: ImportRow; id: string }>, ctx: CallContext): Promise<void> {
  const expiring = expiringRows(deps, inserted)
  if (expiring.length === 0) return
  const rollback = new Rollback('importUsers', ctx.log, { userIds: expiring.map((entry) => entry.id).join(',') })
  const users = deps.crud.users
  for (const { id } of expiring) rollback.add('delete the imported user', () => users.deleteById(id, ctx))
  await rollback.guard(async () => {
    const items: Array<{ filter: Record<string, unknown>; update: { $set: Record<string, unknown> } }> = []
    await forEachLimited(expiring, TIMER_CONCURRENCY, async ({ id, expiresAt }) => {
      const expirationId = await scheduleExpiry(deps, id, expiresAt, ctx, rollback)
      if (expirationId) items.push({ filter: { _id: id, _st: ALL_STATES }, update: { $set: { expirationId } } })
    })
    if (items.length > 0) await users.patchBulk(items, ctx)
  })
}

/** What the expiry step of a patch batch adds to each row's `$set`, and what it undoes or finishes. */
export interface PatchExpiries {
  /** `{expirationId}` for rows whose date changes, keyed by row number. */
  extraSet: Map<number, Record<string, unknown>>
  /** The patch of `row` was not applied: abort its new timer. */
  discard(row: number): Promise<void>
  /** The patches were applied: abort the replaced timers of the `applied` rows. */
  complete(applied: ReadonlySet<number>): Promise<void>
  /** The batch failed: abort every new timer. */
  rollback(): Promise<void>
}

const NO_EXPIRIES: PatchExpiries = {
  extraSet: new Map(),
  discard: async () => {},
  complete: async () => {},
  rollback: async () => {},
}

/**
 * Before a patch batch: the current `expirationDate`/`expirationId` of the rows that set a date,
 * and a new timer for each whose date changes (users that do not exist get none).
 */
export async function preparePatchExpiries(deps: UsersDeps, rows: readonly ImportRow[], ctx: CallContext): Promise<PatchExpiries> {
  const { timer } = deps
  const expiring = expiringRows(deps, rows.map((row) => ({ row })))
  if (!timer || expiring.length === 0) return NO_EXPIRIES
  const ids = [...new Set(expiring.map(({ row }) => row.id!))]
  const current = await deps.users.byIds(ids, ctx, '_id,expirationDate,expirationId', { oneByOneOnRefusal: false })

  const extraSet = new Map<number, Record<string, unknown>>()
  const created = new Map<number, string>()
  const replaced = new Map<number, string>()
  const rollback = new Rollback('importUsers', ctx.log, { userIds: ids.join(',') })
  await rollback.guard(() =>
    forEachLimited(expiring, TIMER_CONCURRENCY, async ({ row, expiresAt }) => {
      const before = current.get(row.id!)
      if (!before || expirationOf(before.expirationDate)?.getTime() === expiresAt.getTime()) return
      const expirationId = await scheduleExpiry(deps, row.id!, expiresAt, ctx, rollback)
      if (!expirationId) return
      extraSet.set(row.row, { expirationId })
      created.set(row.row, expirationId)
      if (typeof before.expirationId === 'string') replaced.set(row.row, before.expirationId)
    }),
  )

  return {
    extraSet,
    discard: async (row) => {
      const expirationId = created.get(row)
      if (expirationId) await timer.abort(expirationId, ctx)
    },
    complete: async (applied) => {
      const old = [...replaced].filter(([row]) => applied.has(row)).map(([, expirationId]) => expirationId)
      await forEachLimited(old, TIMER_CONCURRENCY, (expirationId) => timer.abort(expirationId, ctx))
    },
    rollback: () => rollback.run(),
  }
}
