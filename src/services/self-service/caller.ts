// Who is calling a self-service route: the user whose credentials (a bearer token or the `sid`
// cookie) the auth service accepts, never the platform headers, which any caller can forge.
import type { IncomingHttpHeaders } from 'node:http'
import type { Config } from '../../config/index.js'
import type { CallContext } from '../../clients/http.js'
import type { CrudClient, CrudDocument } from '../../clients/crud.js'
import type { AuthProvider } from '../../auth-providers/provider.js'
import { HttpError, UpstreamError } from '../../errors/index.js'

export const NO_CREDENTIALS_MESSAGE = 'no credentials: send Authorization: Bearer <token> or the sid cookie'
export const REJECTED_CREDENTIALS_MESSAGE = 'the credentials are not valid or have expired: log in again'

/** The session cookie of the auth service, as its website mode sets it. */
const SESSION_COOKIE = 'sid'

export interface CallerDeps {
  config: Config
  crud: CrudClient
  auth: AuthProvider
}

export interface Caller {
  /** The auth service's profile of the logged user. */
  profile: Record<string, unknown>
  authUserId: string
  /** The PUBLIC, unblocked CRUD user whose `authUserId` is the logged one. */
  user: CrudDocument
}

function hasSessionCookie(cookie: string | undefined): boolean {
  if (cookie === undefined) return false
  return cookie.split(';').some((pair) => {
    const [name, value] = pair.split('=', 2)
    return name?.trim() === SESSION_COOKIE && value !== undefined && value.trim() !== ''
  })
}

/** Whether the request carries credentials the auth service could accept. */
export function hasCredentials(headers: IncomingHttpHeaders): boolean {
  const authorization = headers.authorization
  return (typeof authorization === 'string' && authorization.trim() !== '') || hasSessionCookie(headers.cookie)
}

const notAuthenticated = (message: string) => new HttpError(401, message, 'UMS_NOT_AUTHENTICATED')

/** 401 before any peer call when the request has no credentials at all. */
export function requireCredentials(ctx: CallContext): void {
  if (!hasCredentials(ctx.incoming)) throw notAuthenticated(NO_CREDENTIALS_MESSAGE)
}

/** The auth service's profile of the caller; 401 when it refuses the credentials. */
export async function authenticatedProfile(deps: Pick<CallerDeps, 'auth'>, ctx: CallContext): Promise<Record<string, unknown>> {
  requireCredentials(ctx)
  try {
    return await deps.auth.userinfo(ctx)
  } catch (error) {
    if (error instanceof UpstreamError && (error.status === 401 || error.status === 403)) throw notAuthenticated(REJECTED_CREDENTIALS_MESSAGE)
    throw error
  }
}

/** The logged user; 401 without credentials, with refused ones, or for a user who may not log in. */
export async function loggedUser(deps: CallerDeps, ctx: CallContext): Promise<Caller> {
  const profile = await authenticatedProfile(deps, ctx)
  const authUserId = profile[deps.config.customUserIdKey]
  if (typeof authUserId !== 'string' || authUserId === '') throw notAuthenticated(REJECTED_CREDENTIALS_MESSAGE)
  // Only PUBLIC users: a user in TRASH, DRAFT or DELETED is not one any more, whatever its session says.
  const user = await deps.crud.users.findOne({ authUserId }, ctx)
  if (!user || user.blocked === true) throw notAuthenticated(REJECTED_CREDENTIALS_MESSAGE)
  return { profile, authUserId, user }
}
