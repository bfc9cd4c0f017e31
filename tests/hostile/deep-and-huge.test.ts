// Bodies nested 1,000 to 10,000 levels deep and strings of 1 to 2 MB, sent as raw JSON text to
// every route that reads a body: 4xx, no peer written to, no 5xx logged. Deep nesting is refused
// whole (400 past MAX_BODY_DEPTH, MongoDB's own limit): before, a deep value in a body ums passes
// on (a create, a patch, a state filter) overflowed the stack of a copy or a JSON.stringify (500).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_BODY_DEPTH } from '../../src/plugins/requests.js'
import { nested, useHostileStack, useSeededUser } from './hostile.js'
import { BULK_MAX_USERS, JSON_ROUTES, JSON_ROUTE_NAMES, VALID_CUSTOMER } from './routes.js'

const DEPTH_REFUSED = { statusCode: 400, code: 'UMS_INVALID_REQUEST', message: `body must not be nested more than ${MAX_BODY_DEPTH} levels deep` }

describe('deep nesting and huge strings', () => {
  const stack = useHostileStack({ env: { BULK_MAX_USERS: String(BULK_MAX_USERS) } })
  const user = useSeededUser(stack, VALID_CUSTOMER)

  it('1,000 to 10,000 levels of arrays or objects, as the body or inside it: 4xx on every route, no peer written to', async () => {
    const placements = ['whole body', 'refused body', 'accepted body'] as const
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...JSON_ROUTE_NAMES),
        fc.constantFrom('array', 'object'),
        fc.integer({ min: 1_000, max: 10_000 }),
        fc.constantFrom(...placements),
        async (name, kind, depth, placement) => {
          stack.startRun()
          const route = JSON_ROUTES[name]!
          const value = nested(kind, depth)
          const text =
            placement === 'whole body' ? value
            : placement === 'refused body' ? route.refusedHolding(value)
            : (route.acceptedHolding ?? route.refusedHolding)(value)
          const answer = await stack.sendRaw(route.method, route.path(user.id), text)
          stack.expectRefused(answer, `${name} ${placement} ${kind} x${depth}`)
        },
      ),
      { numRuns: 60 },
    )
  })

  it(`a value nested deeper than ${MAX_BODY_DEPTH} levels in a body ums would pass on: 400 naming the limit, not 500`, async () => {
    for (const name of ['POST /users/', 'PATCH /users/:id', 'POST /users/state']) {
      const route = JSON_ROUTES[name]!
      for (const kind of ['array', 'object'] as const) {
        stack.startRun()
        const text = route.acceptedHolding!(nested(kind, 10_000))
        const answer = await stack.sendRaw(route.method, route.path(user.id), text)
        stack.expectRefused(answer, `${name} ${kind} x10000`)
        expect(answer.body, name).toEqual({ ...DEPTH_REFUSED, error: 'Bad Request' })
      }
    }
    // At the limit the body is read as usual (the CRUD refuses the undeclared field).
    stack.startRun()
    const atLimit = await stack.sendRaw('PATCH', `/users/${user.id}`, JSON_ROUTES['PATCH /users/:id']!.acceptedHolding!(nested('array', MAX_BODY_DEPTH - 2)))
    expect(atLimit.body).not.toMatchObject({ message: DEPTH_REFUSED.message })
  })

  it('strings of 1 to 2 MB in a body refused for another reason: 4xx on every route, no peer written to', async () => {
    const hugeString = fc
      .tuple(fc.integer({ min: 1_000_000, max: 2_000_000 }), fc.constantFrom('a', 'é', '😀', '"', '\\', '\u0000', '\n'))
      .map(([length, unit]) => unit.repeat(Math.ceil(length / unit.length)))
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...JSON_ROUTE_NAMES), hugeString, fc.boolean(), async (name, huge, asKey) => {
        stack.startRun()
        const route = JSON_ROUTES[name]!
        const encoded = JSON.stringify(huge)
        const text = route.refusedHolding(asKey ? `{${encoded}:1}` : encoded)
        const answer = await stack.sendRaw(route.method, route.path(user.id), text)
        stack.expectRefused(answer, `${name} ${asKey ? 'key' : 'value'} of ${huge.length} UTF-16 units`)
      }),
      { numRuns: 15 },
    )
  })

  it('a body over 16 MiB: 413, no peer written to', async () => {
    stack.startRun()
    const route = JSON_ROUTES['POST /users/']!
    const answer = await stack.sendRaw(route.method, route.path(user.id), route.acceptedHolding!(JSON.stringify('a'.repeat(17 * 1024 * 1024))))
    stack.expectRefused(answer, 'POST /users/ of 17 MiB')
    expect(answer.body).toMatchObject({ statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' })
  })
})
