// Session endpoints of the Auth0 Client emulator:
// login in token or website mode, refresh with rotation, userinfo by cookie or bearer,
// logout, and the change-password email that lands in the outbox.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { CHANGE_PASSWORD_PATH } from '../../auth-providers/auth0-contract.js'
import {
  bearerToken,
  hasAuthorizationHeader,
  resolveClient,
  sidCookie,
  type ContextProvider,
  type EmulatorContext,
  type ResolvedClient,
} from './context.js'
import { authenticationError, miaError } from './errors.js'
import { rfc3339Nano } from './ids.js'
import { resolveConnection } from './options.js'
import type { Session, SessionTimes } from './sessions.js'
import type { StoredUser } from './users.js'
import { isPlainObject } from '../../lib/plain-object.js'

/** Where `/logout` sends the browser: Auth0's logout endpoint of an imaginary tenant. */
export const AUTH0_LOGOUT_URL = 'https://emulated-tenant.auth0.com/v2/logout'

const wrongCredentials = () => authenticationError(403, 'invalid_grant', 'Wrong email or password.')
const revokedRefreshToken = () => authenticationError(403, 'invalid_grant', 'Unknown or invalid refresh token.')

function bodyOf(request: FastifyRequest): Record<string, unknown> {
  return isPlainObject(request.body, 'any') ? request.body : {}
}

function times(ctx: EmulatorContext): SessionTimes {
  const options = ctx.options()
  return {
    nowMs: ctx.now(),
    tokenLifetimeMs: options.tokenLifetimeSeconds * 1000,
    sessionDurationMs: options.sessionDurationSeconds * 1000,
  }
}

function tokenBody(session: Session) {
  return {
    accessToken: session.accessToken,
    refreshToken: session.refreshToken,
    idToken: session.idToken,
    expireAt: rfc3339Nano(session.accessExpiresAtMs),
  }
}

function sidCookieHeader(client: ResolvedClient, value: string, maxAgeSeconds: number): string {
  const sameSite = client.config.sameSite ? `; SameSite=${client.config.sameSite}` : ''
  return `sid=${value}; Path=/; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; HttpOnly; Secure${sameSite}`
}

/**
 * The session behind the request's credentials: the bearer token when an Authorization header
 * is present (token mode), else the `sid` cookie (website mode, refreshed transparently).
 */
function currentSession(ctx: EmulatorContext, request: FastifyRequest): Session | undefined {
  const nowMs = ctx.now()
  if (hasAuthorizationHeader(request)) {
    const token = bearerToken(request)
    const session = token === undefined ? undefined : ctx.sessions.byAccessToken(token)
    return session && session.accessExpiresAtMs > nowMs ? session : undefined
  }
  const sid = sidCookie(request)
  const session = sid === undefined ? undefined : ctx.sessions.bySessionId(sid)
  if (!session) return undefined
  if (session.sessionExpiresAtMs <= nowMs) {
    ctx.sessions.drop(session)
    return undefined
  }
  if (session.accessExpiresAtMs <= nowMs) ctx.sessions.rotate(session, times(ctx))
  return session
}

function userinfoBody(user: StoredUser) {
  const { profile } = user
  const groups = profile.app_metadata?.groups
  return {
    sub: profile.user_id,
    email: profile.email,
    email_verified: profile.email_verified,
    name: profile.name,
    nickname: profile.nickname,
    picture: profile.picture,
    updated_at: profile.updated_at,
    groups: Array.isArray(groups) ? structuredClone(groups) : [],
    app_metadata: structuredClone(profile.app_metadata ?? {}),
    user_metadata: structuredClone(profile.user_metadata ?? {}),
  }
}

export function registerSessionRoutes(app: FastifyInstance, context: ContextProvider): void {
  app.post('/oauth/token', async (request, reply) => {
    const ctx = context()
    const options = ctx.options()
    const client = resolveClient(options, request, true)
    ctx.limiter.enforce(reply, 'authApi', 'oauth')
    const body = bodyOf(request)
    if (body.grant_type !== undefined && body.grant_type !== 'password') {
      throw authenticationError(400, 'unsupported_grant_type', `Unsupported grant type: ${String(body.grant_type)}`)
    }
    for (const field of ['username', 'password']) {
      if (typeof body[field] !== 'string' || body[field] === '') {
        throw authenticationError(400, 'invalid_request', `Missing required parameter: ${field}`)
      }
    }
    const connection = resolveConnection(options, body.connection)
    const user = ctx.users.findByLogin(connection, body.username as string)
    if (!user || user.password === undefined || user.password !== body.password) throw wrongCredentials()
    // Auth0 answers 401 for a blocked user; the Auth0 Client turns every credential failure into 403.
    if (user.profile.blocked === true) throw authenticationError(403, 'unauthorized', 'user is blocked')
    ctx.users.recordLogin(user)
    const session = ctx.sessions.create(user.profile.user_id, client.name, client.config.website, times(ctx))
    if (session.sid !== undefined) {
      reply.header('set-cookie', sidCookieHeader(client, session.sid, options.sessionDurationSeconds))
      return reply.code(200).send()
    }
    return tokenBody(session)
  })

  app.post('/refreshtoken', async (request, reply) => {
    const ctx = context()
    resolveClient(ctx.options(), request, true)
    ctx.limiter.enforce(reply, 'authApi', 'oauth')
    const accessToken = bearerToken(request)
    if (accessToken === undefined) throw miaError(401, 'missing bearer access token')
    const refreshToken = bodyOf(request).refresh_token
    if (typeof refreshToken !== 'string' || refreshToken === '') throw miaError(400, 'refresh_token is required')
    if (ctx.sessions.isRevoked(refreshToken)) throw revokedRefreshToken()
    const session = ctx.sessions.byAccessToken(accessToken)
    if (!session || session.refreshToken !== refreshToken) throw miaError(401, 'unknown session or refresh token')
    const user = ctx.users.get(session.userId)
    if (!user) {
      ctx.sessions.drop(session)
      throw revokedRefreshToken()
    }
    if (user.profile.blocked === true) throw authenticationError(403, 'invalid_grant', 'user is blocked')
    return tokenBody(ctx.sessions.rotate(session, times(ctx)))
  })

  const userinfo = async (request: FastifyRequest, reply: FastifyReply) => {
    const ctx = context()
    resolveClient(ctx.options(), request, true)
    ctx.limiter.enforce(reply, 'authApi', 'userinfo')
    const session = currentSession(ctx, request)
    if (!session) throw miaError(401, 'no valid session')
    const user = ctx.users.get(session.userId)
    if (!user || user.profile.blocked === true) throw miaError(401, 'user not allowed')
    return userinfoBody(user)
  }
  app.get('/userinfo', userinfo)
  // Legacy alias kept by the Auth0 Client.
  app.get('/users/me', userinfo)

  app.get<{ Querystring: { redirect?: string } }>('/logout', async (request, reply) => {
    const ctx = context()
    const client = resolveClient(ctx.options(), request, true)
    const session = currentSession(ctx, request)
    if (session) ctx.sessions.drop(session)
    reply.header('set-cookie', sidCookieHeader(client, '', 0))
    const redirect = request.query.redirect
    if (typeof redirect !== 'string' || redirect === '') return reply.redirect(AUTH0_LOGOUT_URL, 302)
    const proto = request.headers['x-forwarded-proto'] ?? 'http'
    const host = request.headers['x-forwarded-host'] ?? request.headers.host ?? 'localhost'
    const returnTo = `${String(proto)}://${String(host)}${redirect}`
    return reply.redirect(`${AUTH0_LOGOUT_URL}?returnTo=${encodeURIComponent(returnTo)}`, 302)
  })

  app.post(CHANGE_PASSWORD_PATH, async (request, reply) => {
    const ctx = context()
    const options = ctx.options()
    const client = resolveClient(options, request, true)
    const body = bodyOf(request)
    if (typeof body.email !== 'string' || body.email === '') throw miaError(400, 'email is required')
    const connection = resolveConnection(options, body.connection)
    const user = ctx.users.findByEmail(connection, body.email)
    if (!user) throw miaError(404, `no user with email ${body.email} in connection ${connection}`)
    ctx.limiter.enforce(reply, 'authApi', 'authentication')
    ctx.limiter.enforce(reply, 'changePasswordPerEmail', 'authentication', user.profile.email)
    ctx.outbox.push({ kind: 'change-password', email: user.profile.email, connection, clientType: client.name, at: new Date(ctx.now()) })
    return reply.code(200).type('application/json').send(JSON.stringify("We've just sent you an email to reset your password."))
  })
}
