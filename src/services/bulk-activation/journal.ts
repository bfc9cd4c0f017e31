// The journal of a bulk activation: the checkpoints a run writes, and the state a resumed run
// rebuilds from them. The users read and the files built from them are recorded once; then, per
// file, the intent to start its import, the Auth0 job id once started, what a recovery linked
// after an unconfirmed start, and the file's outcome once linked.
import type { ImportUser } from '../../auth-providers/provider.js'
import { failure, type BulkActivationFailure, type BulkActivationResult } from './result.js'

export interface PreparedFile {
  users: ImportUser[]
  /** `crudIds[i]` is the CRUD `_id` of `users[i]`. */
  crudIds: string[]
}

export interface FileOutcome {
  inserted: number
  updated: number
  failures: BulkActivationFailure[]
  /** The file's Auth0 import job completed (a job whose imports all failed or never ran did not). */
  importCompleted: boolean
}

export type ActivationEntry =
  | { type: 'prepared'; files: PreparedFile[]; failures: BulkActivationFailure[]; skipped: number }
  | { type: 'import-starting'; file: number }
  | { type: 'import-started'; file: number; auth0JobId: string; startedAt: number }
  | { type: 'import-recovered'; file: number; found: string[]; inserted: number; failures: BulkActivationFailure[] }
  | ({ type: 'file-done'; file: number } & FileOutcome)

export interface FileState {
  index: number
  users: ImportUser[]
  /** Generated id → CRUD `_id`. */
  crudIds: Map<string, string>
  /** A start was sent and its answer never recorded: the import may exist. */
  startUnconfirmed: boolean
  auth0JobId?: string
  startedAt?: number
  /** A start got no answer once: the import that followed may report that import's users as duplicates. */
  recoveredOnce: boolean
  /** Generated ids a recovery found in the auth service: they are not imported again. */
  recovered: Set<string>
  /** Recovered users linked, and those whose link failed. */
  recoveredInserted: number
  recoveredFailures: BulkActivationFailure[]
  outcome?: FileOutcome
}

export interface ActivationState {
  prepared: boolean
  /** Failures found while reading the users (unknown, no email, too large). */
  failures: BulkActivationFailure[]
  skipped: number
  files: FileState[]
}

export function applyEntry(state: ActivationState, entry: ActivationEntry): void {
  if (entry.type === 'prepared') {
    state.prepared = true
    state.failures = entry.failures
    state.skipped = entry.skipped
    state.files = entry.files.map((file, index) => ({
      index,
      users: file.users,
      crudIds: new Map(file.users.map((user, position) => [user.user_id, file.crudIds[position]!])),
      startUnconfirmed: false,
      recoveredOnce: false,
      recovered: new Set(),
      recoveredInserted: 0,
      recoveredFailures: [],
    }))
    return
  }
  const file = state.files[entry.file]
  if (!file) return
  switch (entry.type) {
    case 'import-starting':
      file.startUnconfirmed = true
      break
    case 'import-started':
      file.startUnconfirmed = false
      file.auth0JobId = entry.auth0JobId
      file.startedAt = entry.startedAt
      break
    case 'import-recovered':
      file.startUnconfirmed = false
      file.recoveredOnce = true
      for (const id of entry.found) file.recovered.add(id)
      file.recoveredInserted += entry.inserted
      file.recoveredFailures.push(...entry.failures)
      break
    case 'file-done':
      file.outcome = { inserted: entry.inserted, updated: entry.updated, failures: entry.failures, importCompleted: entry.importCompleted }
      break
  }
}

export function foldActivation(entries: readonly unknown[]): ActivationState {
  const state: ActivationState = { prepared: false, failures: [], skipped: 0, files: [] }
  for (const entry of entries) applyEntry(state, entry as ActivationEntry)
  return state
}

/** The users a start of this file imports: those no recovery found already. */
export function usersToImport(file: FileState): ImportUser[] {
  return file.recovered.size === 0 ? file.users : file.users.filter((user) => !file.recovered.has(user.user_id))
}

/**
 * The outcome of a file that ends without a completed import of its own: the users recovered
 * from a lost import count; every other user fails with `error`, if any (none are left when a
 * recovery found them all).
 */
export function fileEnded(file: FileState, error: { code: string; message: string } | undefined): ActivationEntry {
  const failures = [...file.recoveredFailures]
  if (error) {
    for (const user of usersToImport(file)) failures.push(failure(file.crudIds.get(user.user_id)!, error.code, error.message))
  }
  return {
    type: 'file-done',
    file: file.index,
    inserted: file.recoveredInserted,
    updated: 0,
    failures,
    importCompleted: error === undefined || file.recoveredInserted > 0,
  }
}

/** Users settled so far (for progress): failed, skipped, linked. */
export function settledCount(state: ActivationState): number {
  let settled = state.failures.length + state.skipped
  for (const file of state.files) {
    if (file.outcome) settled += file.outcome.inserted + file.outcome.updated + file.outcome.failures.length
    else settled += file.recoveredInserted + file.recoveredFailures.length
  }
  return settled
}

/**
 * The job's end once every file has its outcome: `failed` when users needed an auth user and no
 * import job completed (none could start, or each ended failed/expired), else the result.
 */
export function activationResult(state: ActivationState): BulkActivationResult | 'failed' {
  if (state.files.length > 0 && !state.files.some((file) => file.outcome?.importCompleted)) return 'failed'
  const failures = [...state.failures, ...state.files.flatMap((file) => file.outcome?.failures ?? [])]
  let inserted = 0
  let updated = 0
  for (const file of state.files) {
    inserted += file.outcome?.inserted ?? 0
    updated += file.outcome?.updated ?? 0
  }
  return {
    summary: { failed: failures.length, updated, inserted, total: failures.length + updated + inserted, skipped: state.skipped },
    failures,
  }
}
