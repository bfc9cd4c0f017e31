// Invalid ids in path parameters (encoded slashes and dots, NUL, unicode, over Fastify's
// 100-character parameter limit, unknown ObjectIds, bad percent-encoding), invalid query strings
// on the reads and on the write routes, and random credentials on /userinfo: always a 4xx, never a
// write. Reads are allowed (an unknown id is found unknown by reading it), and every id reaches
// the CRUD as one encoded path segment of the users collection, never as a path of its own.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { useHostileStack, useSeededUser } from './hostile.js'
import { JSON_ROUTES, VALID_CUSTOMER } from './routes.js'

/** Paths under /users/ that are routes of their own, not ids. */
const ROUTE_SEGMENTS = new Set(['', 'count', 'with-id', 'register', 'state', 'import', 'change-password'])

function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

/** Path segments (as sent) that name no user and no job. */
const hostileId = fc
  .oneof(
    fc.constantFrom(
      '%00', '%2F', '%2f%2f', '..%2F..%2Fums-config', '..%2f..%2froles%2f', '%2e%2e', '%2e%2e%2f%2e%2e%2f', '%5C..%5C', '.%2E', '%20', '%0A', '%0D%0Aset-cookie:%20x=1',
      'null', 'undefined', 'NaN', '%5Bobject%20Object%5D', '__proto__', 'constructor', 'hasOwnProperty', '%7B%22%24gt%22%3A%22%22%7D', '%24where',
      '000000000000000000000000', 'ffffffffffffffffffffffff', '%E2%80%AE', '%EF%BB%BF', '%F0%9F%98%80', '%C0%AE%C0%AE', '%ED%A0%80',
      '%', '%zz', '%E0%A4%A', '%%32%65', '-', '~', '*', 'a;b', 'a,b', '(', "'",
    ),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).map(encodeURIComponent),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map(encodeURIComponent),
    fc.string({ minLength: 101, maxLength: 4_000 }).map(encodeURIComponent),
    fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 24, maxLength: 24 }),
  )
  .filter((segment) => !ROUTE_SEGMENTS.has(decoded(segment) ?? segment))

/** The routes with an id: path for that id, method, and a body the route would otherwise accept. */
const ID_ROUTES: Array<{ method: 'GET' | 'PATCH' | 'DELETE' | 'POST'; path: (id: string) => string; body?: unknown }> = [
  { method: 'GET', path: (id) => `/users/${id}` },
  { method: 'PATCH', path: (id) => `/users/${id}`, body: { $set: { name: 'Grace' } } },
  { method: 'DELETE', path: (id) => `/users/${id}` },
  { method: 'POST', path: (id) => `/users/${id}/soft-delete` },
  { method: 'GET', path: (id) => `/jobs/bulk-activation/${id}` },
  { method: 'GET', path: (id) => `/jobs/change-password/bulk/${id}` },
  { method: 'GET', path: (id) => `/jobs/reconcile/${id}` },
]

/** Values no integer coercion accepts (no digits, no spaces: ajv reads ' ' as 0). */
const notAnInteger = fc.oneof(fc.string({ unit: fc.constantFrom(...'abxyz-_.'), maxLength: 6 }), fc.constantFrom('1.5', '-0.5', 'NaN', 'Infinity', '[]', '{}'))
/** Values no boolean coercion accepts (only `true` and `false` are). */
const notABoolean = fc.string({ unit: fc.constantFrom(...'abeflrstuxy01'), maxLength: 6 }).filter((value) => value !== 'true' && value !== 'false')
/** `_q` values that are not a JSON object. */
const notAJsonObject = fc.oneof(
  fc.jsonValue().filter((value) => typeof value !== 'object' || value === null || Array.isArray(value)).map((value) => JSON.stringify(value)),
  fc.string({ unit: 'binary', maxLength: 40 }).filter((text) => {
    try {
      const value: unknown = JSON.parse(text)
      return typeof value !== 'object' || value === null || Array.isArray(value)
    } catch {
      return true
    }
  }),
)

/** One query parameter ums must refuse: [name, value, extra headers]. */
const invalidReadParameter: fc.Arbitrary<[string, string, Record<string, string>]> = fc.oneof(
  fc.oneof(fc.integer({ max: 0 }).map(String), notAnInteger).map((value): [string, string, Record<string, string>] => ['_l', value, {}]),
  fc.oneof(fc.integer({ max: -1 }).map(String), notAnInteger).map((value): [string, string, Record<string, string>] => ['_sk', value, {}]),
  notAJsonObject.map((value): [string, string, Record<string, string>] => ['_q', value, {}]),
  notAJsonObject.map((value): [string, string, Record<string, string>] => ['_q', Buffer.from(value).toString('base64'), { 'json-query-params-encoding': 'base64' }]),
)

/** Extra, harmless parameters around the invalid one. */
const extraParameters = fc.dictionary(fc.string({ unit: fc.constantFrom(...'abcdefgh'), minLength: 1, maxLength: 5 }), fc.string({ maxLength: 10 }), { maxKeys: 3 })

describe('hostile ids and query strings', () => {
  const stack = useHostileStack()
  const user = useSeededUser(stack, VALID_CUSTOMER)

  it('invalid ids on every route with one: 4xx, reads only, the id one segment at the CRUD', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ID_ROUTES), hostileId.filter((id) => id !== user.id), async (route, id) => {
        stack.startRun()
        const path = route.path(id)
        const answer = route.body === undefined ? await stack.handle.call(route.method, path) : await stack.sendRaw(route.method, path, JSON.stringify(route.body))
        stack.expectRefused(answer, `${route.method} ${path}`)
        for (const request of stack.current.crud.requests) expect(request.path, `${route.method} ${path}`).toMatch(/^\/(users|ums-config|roles)\/[^/]*$/)
      }),
      { numRuns: 150 },
    )
  })

  it('an invalid _l, _sk or _q among other parameters on the reads: 4xx, reads only, _q refused before the CRUD is asked', async () => {
    const reads = ['/users/', '/users/count', '/users/:id']
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...reads), invalidReadParameter, extraParameters, async (read, [name, value, headers], extra) => {
        stack.startRun()
        const query = new URLSearchParams({ ...extra, [name]: value }).toString()
        const path = `${read.replace(':id', user.id)}?${query}`
        const answer = await stack.handle.call('GET', path, { headers })
        stack.expectRefused(answer, `GET ${path} ${JSON.stringify(headers)}`)
        // README: a `_q` that is not a JSON object is refused before the CRUD is asked. (`_l=Infinity`
        // passes ajv's integer check, which lets Infinity through without strictNumbers, and the CRUD
        // refuses it: 400 all the same.)
        if (name === '_q') expect(stack.current.crud.requestsTo('GET', /^\/users\//), path).toEqual([])
      }),
      { numRuns: 100 },
    )
  })

  it('a flag that is not a boolean on the write routes, with a body they accept: 400, no peer written to', async () => {
    const flags: Array<{ route: string; flag: string }> = [
      { route: 'POST /users/', flag: 'postponeAuthUserCreation' },
      { route: 'POST /users/', flag: 'sendResetPwdEmail' },
      { route: 'POST /users/register', flag: 'sendResetPwdEmail' },
      { route: 'POST /jobs/bulk-activation', flag: 'upsert' },
    ]
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...flags), notABoolean, async ({ route: name, flag }, value) => {
        stack.startRun()
        const route = JSON_ROUTES[name]!
        const path = `${route.path(user.id)}?${flag}=${encodeURIComponent(value)}`
        const answer = await stack.sendRaw(route.method, path, JSON.stringify(route.valid))
        stack.expectRefused(answer, `${route.method} ${path}`)
        expect(answer.body).toMatchObject({ statusCode: 400, code: 'FST_ERR_VALIDATION' })
      }),
      { numRuns: 40 },
    )
  })

  it('a URL or a header over 16 KB: 431, nothing asked', async () => {
    stack.startRun()
    const longQuery = await stack.handle.call('GET', `/users/?_q=${encodeURIComponent(JSON.stringify({ name: 'x'.repeat(20_000) }))}`)
    stack.expectRefused(longQuery, 'GET /users/ with a 20 KB _q')
    const longHeader = await stack.handle.call('GET', '/userinfo', { headers: { authorization: `Bearer ${'x'.repeat(20_000)}` } })
    stack.expectRefused(longHeader, 'GET /userinfo with a 20 KB authorization')
    expect([longQuery.status, longHeader.status]).toEqual([431, 431])
    expect(stack.current.crud.requests).toEqual([])
  })

  it('random credentials on /userinfo: 4xx, no peer written to', async () => {
    const headerText = fc.string({ unit: fc.constantFrom(...Array.from({ length: 94 }, (_, code) => String.fromCharCode(33 + code))), maxLength: 200 })
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('authorization', 'cookie'), fc.constantFrom('', 'Bearer ', 'Basic ', 'sid='), headerText, async (header, prefix, text) => {
        stack.startRun()
        const answer = await stack.handle.call('GET', '/userinfo', { headers: { [header]: `${prefix}${text}` } })
        stack.expectRefused(answer, `GET /userinfo ${header}: ${prefix}${text}`)
      }),
      { numRuns: 40 },
    )
  })
})
