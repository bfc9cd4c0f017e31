// Writes the imported rows in CRUD bulk calls of USER_IMPORT_BATCH_SIZE: inserts with
// `POST /bulk`, patches with `PATCH /bulk`, at most MAX_IN_FLIGHT batches at once while the file
// is still being parsed (the parser waits, so memory stays flat). A batch the CRUD refuses is
// retried row by row so that only the bad rows are reported, and no row is ever written twice.
import type { CallContext } from '../../clients/http.js'
import { ALL_STATES, type CrudUpdate } from '../../clients/crud.js'
import { UpstreamError, mayHaveLanded } from '../../errors/index.js'
import { crudDuplicateReason, crudValidationMessage, duplicateIndexName, isDuplicateKey } from '../../clients/crud-refusals.js'
import type { UsersDeps } from '../users/context.js'
import { CLOCK_SLACK_MS, insertUser, insertedPrefix } from '../users/read-back.js'
import { preparePatchExpiries, scheduleInserted } from './expiry.js'
import { syncImportedGroups } from './groups.js'
import { skipping, type ImportRow, type RowError } from './rows.js'

export const MAX_IN_FLIGHT = 2

export interface ImportOutcome {
  inserted: string[]
  updated: string[]
  invalid: RowError[]
}

type Kind = 'insert' | 'patch'

/**
 * Worded as `POST /users/` words it (`email already exists`), from the fields of the duplicate-key
 * message; its index when it names no field. The key's value (personal data) is left out.
 */
function duplicateRowReason(error: UpstreamError): string {
  const index = duplicateIndexName(error)
  return skipping(crudDuplicateReason(error) ?? (index ? `the value of the unique index ${index} already exists` : 'a unique value already exists'))
}

function refusalReason(error: UpstreamError): string {
  const message = crudValidationMessage(error)
  return skipping(message ? `refused by the CRUD Service, ${message}` : `refused by the CRUD Service with a ${error.status} status code`)
}

/** Why the CRUD refused one row, or undefined when the failure is not about the row (then the import fails). */
function rowRefusal(error: unknown, kind: Kind): string | undefined {
  if (!(error instanceof UpstreamError) || error.service !== 'CRUD' || error.status === undefined) return undefined
  // Inserts answer a duplicate with 409 (422 before v6); only updates surface it as a 500.
  const duplicate = kind === 'patch' ? isDuplicateKey(error) : error.status === 409 || error.status === 422
  if (duplicate) return duplicateRowReason(error)
  if (error.status === 400) return refusalReason(error)
  return undefined
}

const NOT_FOUND = skipping('no user with this _id')

export class ImportWriter {
  private readonly inFlight = new Set<Promise<void>>()
  private readonly outcomes: ImportOutcome[] = []
  private readonly pending: Record<Kind, ImportRow[]> = { insert: [], patch: [] }
  private failure: { error: unknown } | undefined
  /** Every id this import inserted, told apart from the documents of a refused bulk insert. */
  private readonly known = new Set<string>()
  /** `POST /bulk` calls not answered yet. */
  private readonly insertCalls = new Set<Promise<unknown>>()

  constructor(
    private readonly deps: UsersDeps,
    private readonly ctx: CallContext,
    private readonly batchSize: number,
  ) {}

  /** A batch failed: the import stops, `finish()` throws the failure. */
  get failed(): boolean {
    return this.failure !== undefined
  }

  async add(row: ImportRow): Promise<void> {
    const kind: Kind = row.id === undefined ? 'insert' : 'patch'
    this.pending[kind].push(row)
    if (this.pending[kind].length >= this.batchSize) await this.flush(kind)
  }

  /** Sends what is left, waits for every batch; the rows' outcome in file order, or the first failure. */
  async finish(): Promise<ImportOutcome> {
    await this.flush('insert')
    await this.flush('patch')
    await this.settle()
    if (this.failure) throw this.failure.error
    const result: ImportOutcome = { inserted: [], updated: [], invalid: [] }
    for (const outcome of this.outcomes) {
      result.inserted.push(...outcome.inserted)
      result.updated.push(...outcome.updated)
      result.invalid.push(...outcome.invalid)
    }
    return result
  }

  /** Waits for the batches in flight (nothing is written once the import has answered). */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight)
  }

  private async flush(kind: Kind): Promise<void> {
    const rows = this.pending[kind]
    if (rows.length === 0 || this.failure) return
    this.pending[kind] = []
    while (this.inFlight.size >= MAX_IN_FLIGHT) await Promise.race(this.inFlight)
    if (this.failure) return
    const outcome: ImportOutcome = { inserted: [], updated: [], invalid: [] }
    this.outcomes.push(outcome)
    const work = kind === 'insert' ? this.insertBatch(rows, outcome) : this.patchBatch(rows, outcome)
    const tracked: Promise<void> = work
      .catch((error: unknown) => {
        this.failure ??= { error }
      })
      .finally(() => this.inFlight.delete(tracked))
    this.inFlight.add(tracked)
  }

  private async insertBatch(rows: ImportRow[], outcome: ImportOutcome): Promise<void> {
    const users = this.deps.crud.users
    // The rows' own objects (not copies): they are not used for anything else.
    const docs = rows.map((row) => Object.assign(row.user, { __STATE__: 'PUBLIC' }))
    const sentAt = Date.now()
    const call = users.insertMany(docs, this.ctx)
    this.insertCalls.add(call)
    const answered = call.then(
      (ids) => {
        for (const id of ids) this.known.add(id)
      },
      () => {},
    )
    void answered.finally(() => this.insertCalls.delete(call))

    let written: Array<{ row: ImportRow; id: string }>
    try {
      const ids = await call
      written = rows.map((row, index) => ({ row, id: ids[index]! }))
    } catch (error) {
      // A lost answer is settled like a 409: the rows that landed are found again, the rest inserted one by one.
      if (rowRefusal(error, 'insert') === undefined && !mayHaveLanded(error)) throw error
      written = await this.insertRowByRow(rows, docs, error as UpstreamError, call, sentAt, outcome)
    }
    await scheduleInserted(this.deps, written, this.ctx)
    outcome.inserted.push(...written.map(({ id }) => id))
  }

  /**
   * A refused `POST /bulk`: a 400 wrote nothing; a 409 wrote the rows before the offending one, and
   * one whose answer was lost may have written them all (found again by content, see
   * users/inserted.ts). The other rows are inserted one at a time.
   */
  private async insertRowByRow(
    rows: ImportRow[],
    docs: Array<Record<string, unknown>>,
    refusal: UpstreamError,
    call: Promise<unknown>,
    sentAt: number,
    outcome: ImportOutcome,
  ): Promise<Array<{ row: ImportRow; id: string }>> {
    const users = this.deps.crud.users
    let prefix: string[] = []
    if (refusal.status !== 400) {
      // The other bulk inserts in flight first: their documents must be known, not mistaken for these.
      await Promise.allSettled([...this.insertCalls].filter((other) => other !== call))
      try {
        prefix = await insertedPrefix(users, docs, this.known, new Date(sentAt - CLOCK_SLACK_MS), this.ctx)
      } catch (readError) {
        if (!mayHaveLanded(refusal)) throw readError
        // Whether the rows landed cannot be told: the import fails on the lost call.
        this.ctx.log.error({ err: readError, call: refusal.message }, 'a bulk insert whose answer was lost could not be read back: its rows may have landed')
        throw refusal
      }
      for (const id of prefix) this.known.add(id)
    }
    const written = prefix.map((id, index) => ({ row: rows[index]!, id }))
    for (let index = prefix.length; index < rows.length; index += 1) {
      try {
        const id = await insertUser(users, docs[index]!, this.ctx, this.known)
        this.known.add(id)
        written.push({ row: rows[index]!, id })
      } catch (error) {
        const reason = rowRefusal(error, 'insert')
        if (reason === undefined) throw error
        outcome.invalid.push({ row: rows[index]!.row, error: reason })
      }
    }
    return written
  }

  private async patchBatch(rows: ImportRow[], outcome: ImportOutcome): Promise<void> {
    const expiries = await preparePatchExpiries(this.deps, rows, this.ctx)
    const items = rows.map((row) => ({
      row,
      filter: { _id: row.id!, _st: ALL_STATES },
      update: { $set: { ...row.user, ...expiries.extraSet.get(row.row) } } satisfies CrudUpdate,
    }))
    const applied = new Set<number>()
    try {
      let modified: number | undefined
      try {
        modified = await this.deps.crud.users.patchBulk(items.map(({ filter, update }) => ({ filter, update })), this.ctx)
      } catch (error) {
        if (rowRefusal(error, 'patch') === undefined) throw error
      }
      const existing = modified === undefined ? undefined : await this.patchedIds(items.map(({ row }) => row.id!), modified)
      for (const item of items) {
        const { row } = item
        const reason = existing === undefined ? await this.patchOne(item) : existing.has(row.id!) ? undefined : NOT_FOUND
        if (reason === undefined) {
          applied.add(row.row)
          outcome.updated.push(row.id!)
        } else {
          outcome.invalid.push({ row: row.row, error: reason })
          await expiries.discard(row.row)
        }
      }
    } catch (error) {
      await expiries.rollback()
      throw error
    }
    await expiries.complete(applied)
    await syncImportedGroups(this.deps, rows.filter((row) => applied.has(row.row)), this.ctx)
  }

  /**
   * The ids of a successful `PATCH /bulk` that exist: all of them when every item modified a
   * document, else looked up (undefined when the lookup is refused: then row by row).
   */
  private async patchedIds(ids: string[], modified: number): Promise<Set<string> | undefined> {
    if (modified >= ids.length) return new Set(ids)
    try {
      const existing = await this.deps.users.byIds([...new Set(ids)], this.ctx, '_id', { oneByOneOnRefusal: false })
      return new Set(existing.keys())
    } catch (error) {
      if (error instanceof UpstreamError && error.status === 400) return undefined
      throw error
    }
  }

  /** One row's patch on its own (`$set` is idempotent: a row of a partly applied batch may go twice). */
  private async patchOne(item: { filter: Record<string, unknown>; update: CrudUpdate }): Promise<string | undefined> {
    try {
      const modified = await this.deps.crud.users.patchBulk([{ filter: item.filter, update: item.update }], this.ctx)
      return modified > 0 ? undefined : NOT_FOUND
    } catch (error) {
      const reason = rowRefusal(error, 'patch')
      if (reason === undefined) throw error
      return reason
    }
  }
}
