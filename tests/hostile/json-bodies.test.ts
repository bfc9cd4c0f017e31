// Random JSON bodies on every route that reads one, each invalid by construction (a field missing,
// of a type no coercion fixes, extra, out of its list; a patch without a usable operator...):
// ums answers 4xx and writes to no peer, and no 5xx is logged. A body that is not JSON, or comes
// in another content type, gets the same. See routes.ts for what each route must refuse.
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { useHostileStack, useSeededUser } from './hostile.js'
import { BULK_MAX_USERS, JSON_ROUTES, JSON_ROUTE_NAMES, VALID_CUSTOMER } from './routes.js'

const RUNS_PER_ROUTE = 60

describe('random invalid JSON bodies', () => {
  const stack = useHostileStack({ env: { BULK_MAX_USERS: String(BULK_MAX_USERS) } })
  /** A user with an auth user, so PATCH /users/:id reads a real user before refusing. */
  const user = useSeededUser(stack, VALID_CUSTOMER)

  for (const name of JSON_ROUTE_NAMES) {
    const route = JSON_ROUTES[name]!
    it(`${name}: 4xx, no peer written to`, async () => {
      await fc.assert(
        fc.asyncProperty(route.invalid, async (body) => {
          stack.startRun()
          const text = JSON.stringify(body)
          const answer = await stack.sendRaw(route.method, route.path(user.id), text)
          stack.expectRefused(answer, `${name} ${text}`)
        }),
        { numRuns: RUNS_PER_ROUTE },
      )
    })
  }

  it('text that is not JSON, or a valid body in another content type: 4xx on every route, no peer written to', async () => {
    const notJson = fc.string({ unit: 'binary', maxLength: 200 }).filter((text) => {
      try {
        JSON.parse(text)
        return false
      } catch {
        return true
      }
    })
    const contentType = fc.oneof(
      fc.constant('application/json'),
      fc.constantFrom('text/plain', 'text/html', 'application/x-www-form-urlencoded', 'application/xml', 'application/octet-stream', 'multipart/form-data; boundary=x'),
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...JSON_ROUTE_NAMES), contentType, notJson, async (name, type, text) => {
        stack.startRun()
        const route = JSON_ROUTES[name]!
        const body = type === 'application/json' ? text : JSON.stringify(route.valid)
        const answer = await stack.sendRaw(route.method, route.path(user.id), body, { 'content-type': type })
        stack.expectRefused(answer, `${name} (${type}) ${body}`)
      }),
      { numRuns: 100 },
    )
  })
})
