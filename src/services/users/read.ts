// Reads proxied to the CRUD (GET /users/, /users/count, /users/:id): the caller's query and ACL
// headers pass through unchanged and the answer is streamed back. With CONFIGURATION_PATH, a
// listed page gets the configured auth properties merged in (one auth call per 100 users).
import type { Readable } from 'node:stream'
import type { CallContext } from '../../clients/http.js'
import { HttpError, UpstreamError, userOperationError } from '../../errors.js'
import type { UsersDeps } from './context.js'

export type UsersRead = { kind: 'list' } | { kind: 'count' } | { kind: 'one'; id: string }

export interface ProxiedAnswer {
  status: number
  contentType: string
  body: Readable | unknown
}

function suffixOf(read: UsersRead): '/' | '/count' | `/${string}` {
  if (read.kind === 'list') return '/'
  if (read.kind === 'count') return '/count'
  return `/${encodeURIComponent(read.id)}`
}

async function mergeAuthProperties(deps: UsersDeps, users: unknown, ctx: CallContext): Promise<unknown> {
  const merge = deps.config.authProperties
  if (!merge || !Array.isArray(users) || users.length === 0) return users
  const ids = [...new Set(users.map((user) => (user as Record<string, unknown>)[merge.userIdField]).filter((id): id is string => typeof id === 'string'))]
  if (ids.length === 0) return users
  let profiles: Record<string, unknown>[]
  try {
    profiles = await deps.auth.listUsersByIds(ids, ctx)
  } catch (error) {
    // The CRUD page is still the right answer; only the extras are missing.
    ctx.log.warn({ err: error }, 'auth properties not merged into the users list')
    return users
  }
  const byId = new Map(profiles.map((profile) => [profile.user_id, profile]))
  return users.map((user: Record<string, unknown>) => {
    const profile = byId.get(user[merge.userIdField])
    if (!profile) return user
    const merged = { ...user }
    for (const property of merge.properties) if (property in profile) merged[property] = profile[property]
    return merged
  })
}

export async function readUsers(deps: UsersDeps, read: UsersRead, rawQuery: string, ctx: CallContext): Promise<ProxiedAnswer> {
  try {
    const response = await deps.crud.users.proxyRead(suffixOf(read), rawQuery, ctx)
    const contentType = String(response.headers['content-type'] ?? 'application/json')
    if (response.statusCode >= 200 && response.statusCode < 300) {
      if (read.kind !== 'list' || !deps.config.authProperties) return { status: response.statusCode, contentType, body: response.body }
      return { status: response.statusCode, contentType: 'application/json', body: await mergeAuthProperties(deps, await response.body.json(), ctx) }
    }
    const upstream = (await response.body.json().catch(() => undefined)) as { message?: unknown } | undefined
    if (response.statusCode === 404 && read.kind === 'one') throw new HttpError(404, `User ${read.id} not found`)
    // A query the CRUD refuses is the caller's: its message names the offending parameter.
    if (response.statusCode === 400 && typeof upstream?.message === 'string') throw new HttpError(400, upstream.message)
    const route = `${deps.crud.users.endpoint}${read.kind === 'one' ? '/:id' : suffixOf(read)}`
    throw new UpstreamError('CRUD', 'GET', route, response.statusCode, undefined, upstream)
  } catch (error) {
    throw userOperationError(error, 'retrieving', [])
  }
}
