// GET /userinfo: the auth service's profile of the logged user merged with that user's CRUD
// document (USERINFO_ADDITIONAL_PROPERTIES) and, when configured, the permissions of its roles.
import type { Config } from '../config/index.js'
import type { CallContext } from '../clients/http.js'
import type { CrudClient, CrudDocument } from '../clients/crud.js'
import type { AuthProvider } from '../auth-providers/provider.js'
import { HttpError } from '../errors/index.js'
import { authenticatedProfile } from './self-service/caller.js'

export const NOT_LOGGED_MESSAGE = 'Missing authUserId, user not logged'
const PERMISSIONS_PROPERTY = 'permissions'

export interface UserinfoDeps {
  config: Config
  crud: CrudClient
  auth: AuthProvider
}

function pickCrudProperties(user: CrudDocument, wanted: string[] | undefined): Record<string, unknown> {
  if (wanted === undefined) return { ...user }
  const picked: Record<string, unknown> = {}
  for (const key of wanted) {
    if (key !== PERMISSIONS_PROPERTY && key in user) picked[key] = user[key]
  }
  return picked
}

async function permissionsOf(deps: UserinfoDeps, roles: unknown, ctx: CallContext): Promise<string[]> {
  const roleIds = Array.isArray(roles) ? roles.filter((role): role is string => typeof role === 'string') : []
  if (roleIds.length === 0 || !deps.crud.roles) return []
  const roleDocuments = await deps.crud.roles.list<{ permissions?: unknown }>(
    { _q: JSON.stringify({ roleId: { $in: roleIds } }), _l: 200 },
    ctx,
  )
  const permissions = new Set<string>()
  for (const role of roleDocuments) {
    if (!Array.isArray(role.permissions)) continue
    for (const permission of role.permissions) if (typeof permission === 'string') permissions.add(permission)
  }
  return [...permissions]
}

const notLogged = () => new HttpError(401, NOT_LOGGED_MESSAGE, 'UMS_NOT_AUTHENTICATED')

export async function getUserinfo(deps: UserinfoDeps, ctx: CallContext): Promise<Record<string, unknown>> {
  const { config } = deps
  const profile = await authenticatedProfile(deps, ctx)
  const authUserId = profile[config.customUserIdKey]
  if (typeof authUserId !== 'string' || authUserId === '') throw notLogged()
  const user = await deps.crud.users.findOne({ authUserId }, ctx)
  if (!user) throw notLogged()

  const wanted = config.userinfoAdditionalProperties
  // The CRUD holds the user's data, the auth service only credentials: on a shared key (e.g. the
  // OIDC `name` claim) the CRUD value is the one the caller asked for.
  const result: Record<string, unknown> = { ...profile, ...pickCrudProperties(user, wanted) }
  if (config.endpoints.roles !== undefined && wanted?.includes(PERMISSIONS_PROPERTY)) {
    result.permissions = await permissionsOf(deps, user.roles, ctx)
  }
  return result
}
