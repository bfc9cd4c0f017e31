// Reads proxied to the CRUD (GET /users/, /users/count, /users/:id): the caller's query and ACL
// headers pass through unchanged and the answer is streamed back. With CONFIGURATION_PATH, a
// listed page gets the configured auth properties merged in (one auth call per 100 users).
import type { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { transportReason, type CallContext } from '../../clients/http.js'
import { HttpError, UpstreamError } from '../../errors/index.js'
import type { UsersDeps } from './context.js'

export type UsersRead = { kind: 'list' } | { kind: 'count' } | { kind: 'one'; id: string }

export interface ProxiedAnswer {
  status: number
  contentType: string
  /** The CRUD answer as a stream, or its bytes (a Buffer, so the reply keeps the CRUD content type). */
  body: Readable | Buffer | unknown
}

function suffixOf(read: UsersRead): '/' | '/count' | `/${string}` {
  if (read.kind === 'list') return '/'
  if (read.kind === 'count') return '/count'
  return `/${encodeURIComponent(read.id)}`
}

/** The CRUD route template named in error messages: `/users/`, `/users/count`, `/users/:id`. */
function routeOf(deps: UsersDeps, read: UsersRead): string {
  return `${deps.crud.users.endpoint}${read.kind === 'one' ? '/:id' : suffixOf(read)}`
}

/**
 * The page with the auth properties merged into its users, or undefined when nothing was merged
 * (no configuration, nothing to look up, or the lookup failed): the CRUD bytes are then relayed.
 */
async function mergeAuthProperties(deps: UsersDeps, users: unknown, ctx: CallContext): Promise<unknown[] | undefined> {
  const merge = deps.config.authProperties
  if (!merge || !Array.isArray(users) || users.length === 0) return undefined
  const records = users as unknown[]
  const idOf = (user: unknown): unknown => (user !== null && typeof user === 'object' ? (user as Record<string, unknown>)[merge.userIdField] : undefined)
  const ids = [...new Set(records.map(idOf).filter((id): id is string => typeof id === 'string' && id !== ''))]
  if (ids.length === 0) return undefined
  let profiles: Record<string, unknown>[]
  try {
    profiles = await deps.auth.listUsersByIds(ids, ctx)
  } catch (error) {
    // The CRUD page is still the right answer; only the extras are missing.
    ctx.log.warn({ err: error }, 'auth properties not merged into the users list')
    return undefined
  }
  const byId = new Map<unknown, Record<string, unknown>>()
  for (const profile of profiles) if (profile !== null && typeof profile === 'object') byId.set(profile.user_id, profile)
  return records.map((user) => {
    const profile = byId.get(idOf(user))
    if (!profile) return user
    const merged = { ...(user as Record<string, unknown>) }
    for (const property of merge.properties) if (Object.hasOwn(profile, property)) merged[property] = profile[property]
    return merged
  })
}

/** A CRUD answer whose body broke off after the headers: a transport failure of that call. */
function bodyFailure(deps: UsersDeps, read: UsersRead, error: unknown): UpstreamError {
  return new UpstreamError('CRUD', 'GET', routeOf(deps, read), undefined, transportReason(error, deps.config.upstreamTimeoutMs))
}

export function readUsers(deps: UsersDeps, read: UsersRead, rawQuery: string, ctx: CallContext): Promise<ProxiedAnswer> {
  let answered: Promise<Dispatcher.ResponseData>
  try {
    answered = deps.crud.users.proxyRead(suffixOf(read), rawQuery, ctx)
  } catch (error) {
    return Promise.reject(error)
  }
  // Not an async function: the plain relay, which every proxied read is unless auth properties
  // are merged, settles in one step once the CRUD has answered.
  return answered.then((response) => {
    const contentType = String(response.headers['content-type'] ?? 'application/json')
    const ok = response.statusCode >= 200 && response.statusCode < 300
    if (ok && (read.kind !== 'list' || !deps.config.authProperties)) return { status: response.statusCode, contentType, body: response.body }
    return ok ? mergedPage(deps, read, response, contentType, ctx) : refusal(deps, read, response, ctx)
  })
}

/** A listed page with the configured auth properties merged in (CONFIGURATION_PATH). */
async function mergedPage(deps: UsersDeps, read: UsersRead, response: Dispatcher.ResponseData, contentType: string, ctx: CallContext): Promise<ProxiedAnswer> {
  const text = await response.body.text().catch((error: unknown) => {
    throw bodyFailure(deps, read, error)
  })
  let page: unknown
  try {
    page = JSON.parse(text)
  } catch {
    page = undefined
  }
  const merged = await mergeAuthProperties(deps, page, ctx)
  return { status: response.statusCode, contentType, body: Buffer.from(merged === undefined ? text : JSON.stringify(merged)) }
}

/** The error a non-2xx CRUD answer stands for. */
async function refusal(deps: UsersDeps, read: UsersRead, response: Dispatcher.ResponseData, ctx: CallContext): Promise<never> {
  const upstream = (await response.body.json().catch(() => undefined)) as { message?: unknown } | undefined
  if (response.statusCode === 404 && read.kind === 'one') throw new HttpError(404, `User ${read.id} not found`, 'UMS_USER_NOT_FOUND')
  // A query the CRUD refuses is the caller's: its message names the offending parameter.
  if (response.statusCode === 400 && typeof upstream?.message === 'string') throw new HttpError(400, upstream.message, 'UMS_INVALID_QUERY')
  ctx.log.debug({ peer: 'CRUD', route: routeOf(deps, read), statusCode: response.statusCode, upstreamBody: upstream }, 'peer error body')
  throw new UpstreamError('CRUD', 'GET', routeOf(deps, read), response.statusCode, undefined, upstream)
}
