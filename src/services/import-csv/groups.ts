// The groups of users an import updated reach their auth users, where the platform's authorization
// reads them (`app_metadata.groups`). The CRUD rows are written by then: an auth user that cannot
// be updated is logged and left for reconciliation's groups-mismatch check, not failed.
import type { CallContext } from '../../clients/http.js'
import { appMetadataOf, updateAuthUser, type UsersDeps } from '../users/context.js'
import { forEachLimited } from './expiry.js'
import type { ImportRow } from './rows.js'

/** Auth updates of one batch running at once. */
const AUTH_CONCURRENCY = 4

export async function syncImportedGroups(deps: UsersDeps, rows: readonly ImportRow[], ctx: CallContext): Promise<void> {
  const ids = rows.filter((row) => row.id !== undefined && 'groups' in row.user).map((row) => row.id!)
  if (ids.length === 0) return
  const users = await deps.users.byIds<{ _id: string; authUserId?: unknown; groups?: unknown }>([...new Set(ids)], ctx, '_id,authUserId,groups')
  const linked = [...users.values()].filter((user) => typeof user.authUserId === 'string' && user.authUserId !== '')
  await forEachLimited(linked, AUTH_CONCURRENCY, async (user) => {
    try {
      await updateAuthUser(deps, user.authUserId as string, { app_metadata: appMetadataOf(user.groups) }, ctx)
    } catch (error) {
      ctx.log.warn({ err: error, userId: user._id }, 'the groups of an imported user did not reach its auth user: reconciliation repairs them')
    }
  })
}
