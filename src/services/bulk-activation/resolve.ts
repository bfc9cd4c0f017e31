// Which auth user each imported entry became. Inserted users get
// `auth0|<generated id>`; users an upsert matched on email keep their existing id, which only a
// search by email reveals, and Auth0's search lags behind the import: the lookup is retried until
// the numbers of the job summary are accounted for.
import { AUTH0_USER_ID_PREFIX } from '../../auth-providers/auth0-contract.js'
import type { AuthProvider, ImportJob, ImportUser } from '../../auth-providers/provider.js'
import type { CallContext } from '../../clients/http.js'
import { UpstreamError } from '../../errors/index.js'
import { sleep } from '../../lib/sleep.js'

/** Waits before each search attempt: about 8 s in all, Auth0's usual indexing lag being "a few seconds". */
export const DEFAULT_LOOKUP_DELAYS_MS: readonly number[] = [0, 250, 500, 1000, 2000, 4000]
/** Emails per search call. */
const EMAILS_PER_LOOKUP = 100
/** Longest wait a 429 on the search may impose between two calls. */
const MAX_RATE_LIMIT_WAIT_MS = 10_000

export interface ResolvedId {
  authUserId: string
  /** True when the import updated an existing auth user (its id is not the generated one). */
  updated: boolean
}

export interface Resolution {
  /** Generated id → the auth user it became. */
  ids: Map<string, ResolvedId>
  /** Entries no search found although the summary says some may still be missing. */
  unresolved: ImportUser[]
}

export interface ResolveOptions {
  summary: ImportJob['summary']
  /** Error entries that named no user of the file: some entry among the candidates may have failed. */
  unmappedFailures: number
  delaysMs: readonly number[]
  isClosed: () => boolean
}

/** The auth id of the user an import inserts with this generated id. */
export const generatedAuthId = (generatedId: string): string => AUTH0_USER_ID_PREFIX + generatedId
export const insertedId = (entry: ImportUser): string => generatedAuthId(entry.user_id)

/**
 * The auth ids of `candidates` (the entries of a completed job that no error entry names).
 * Without updates and with every failure accounted for, each candidate was inserted with its
 * generated id and no search is needed. Otherwise the candidates are searched by email until each
 * one is found, or until as many updated users as the summary reports are found and every
 * failure is accounted for (the rest were inserted and may simply not be indexed yet).
 */
export async function resolveAuthIds(
  auth: AuthProvider,
  candidates: ImportUser[],
  options: ResolveOptions,
  ctx: CallContext,
): Promise<Resolution> {
  const ids = new Map<string, ResolvedId>()
  const { summary, unmappedFailures } = options
  const assumeRestInserted = (updatedFound: number) => summary !== undefined && unmappedFailures === 0 && updatedFound >= summary.updated
  if (assumeRestInserted(0)) {
    for (const entry of candidates) ids.set(entry.user_id, { authUserId: insertedId(entry), updated: false })
    return { ids, unresolved: [] }
  }

  const byEmail = new Map<string, ImportUser>()
  for (const entry of candidates) if (!byEmail.has(entry.email.toLowerCase())) byEmail.set(entry.email.toLowerCase(), entry)
  let updatedFound = 0
  let settled = false
  for (const delay of options.delaysMs) {
    await sleep(delay, undefined, { unref: true })
    if (options.isClosed()) break
    const pending = candidates.filter((entry) => !ids.has(entry.user_id)).map((entry) => entry.email)
    for (let start = 0; start < pending.length; start += EMAILS_PER_LOOKUP) {
      let profiles: Record<string, unknown>[]
      try {
        profiles = await auth.listUsersByEmails(pending.slice(start, start + EMAILS_PER_LOOKUP), ctx)
      } catch (error) {
        ctx.log.warn({ err: error }, 'bulk activation: search of upserted users failed')
        if (error instanceof UpstreamError && error.status === 429) await sleep(Math.min(error.retryAfterMs ?? 1000, MAX_RATE_LIMIT_WAIT_MS), undefined, { unref: true })
        continue
      }
      for (const profile of profiles) {
        if (typeof profile.email !== 'string' || typeof profile.user_id !== 'string') continue
        const entry = byEmail.get(profile.email.toLowerCase())
        if (!entry || ids.has(entry.user_id)) continue
        const updated = profile.user_id !== insertedId(entry)
        ids.set(entry.user_id, { authUserId: profile.user_id, updated })
        if (updated) updatedFound += 1
      }
    }
    if (ids.size === candidates.length || assumeRestInserted(updatedFound)) {
      settled = true
      break
    }
  }
  const rest = candidates.filter((entry) => !ids.has(entry.user_id))
  if (settled) {
    for (const entry of rest) ids.set(entry.user_id, { authUserId: insertedId(entry), updated: false })
    return { ids, unresolved: [] }
  }
  return { ids, unresolved: rest }
}
