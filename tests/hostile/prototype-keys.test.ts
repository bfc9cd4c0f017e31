// `__proto__` and `constructor` keys, sent as raw JSON text (JSON.stringify drops a `__proto__`
// set in a literal): at the top of a body, inside a free-form value, in a body the route would
// otherwise accept, and as segments of PATCH field paths (`{"$set": {"__proto__.polluted": 1}}`).
// ums runs in this process, so a request that reached Object.prototype would show here: every
// answer is 4xx, no peer is written to and the built-in prototypes keep their properties.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { expectPrototypesIntact, useHostileStack, useSeededUser } from './hostile.js'
import { JSON_ROUTES, JSON_ROUTE_NAMES, VALID_CUSTOMER } from './routes.js'

/** Spellings of the two keys, escaped ones included (a parser must unescape before checking). */
const PROTO_KEYS = ['"__proto__"', '"\\u005f_proto__"', '"__proto\\u005f_"']
const POISONS = [
  ...PROTO_KEYS.map((key) => `${key}:{"polluted":1}`),
  ...PROTO_KEYS.map((key) => `${key}:{"toString":1,"hasOwnProperty":"x"}`),
  '"constructor":{"prototype":{"polluted":1}}',
  '"\\u0063onstructor":{"prototype":{"polluted":1}}',
]

/** `text` with `member` as the first member of its first object. */
function withFirstMember(text: string, member: string): string {
  const open = text.indexOf('{')
  if (open === -1) throw new Error(`no object in ${text}`)
  const empty = text[open + 1] === '}'
  return `${text.slice(0, open + 1)}${member}${empty ? '' : ','}${text.slice(open + 1)}`
}

describe('__proto__ and constructor keys in JSON bodies', () => {
  const stack = useHostileStack()
  const user = useSeededUser(stack, VALID_CUSTOMER)

  it('on every route, anywhere in the body: 4xx, no peer written to, the prototypes intact', async () => {
    const placements = ['first member', 'free-form value', 'accepted body'] as const
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...JSON_ROUTE_NAMES), fc.constantFrom(...POISONS), fc.constantFrom(...placements), async (name, poison, placement) => {
        stack.startRun()
        const route = JSON_ROUTES[name]!
        const accepted = route.acceptedHolding?.('{}') ?? JSON.stringify(route.valid)
        const text =
          placement === 'first member' ? withFirstMember(JSON.stringify(route.valid), poison)
          : placement === 'free-form value' ? route.refusedHolding(`{${poison}}`)
          : withFirstMember(accepted, poison)
        const answer = await stack.sendRaw(route.method, route.path(user.id), text)
        stack.expectRefused(answer, `${name} ${text}`)
      }),
      { numRuns: 80 },
    )
  })

  it('PATCH field paths naming __proto__, constructor or prototype: 400 before any write, the prototypes intact', async () => {
    // Before the route refused them, `{"$set": {"__proto__.polluted": 1}}` set Object.prototype.polluted
    // in ums's process (predicting the patched user) and crashed it in the next peer call's metrics.
    const operators = ['$set', '$unset', '$inc', '$mul', '$currentDate', '$push', '$addToSet', '$pull']
    const paths = ['__proto__.polluted', '__proto__', 'tags.__proto__.polluted', 'constructor.prototype.polluted', 'prototype.polluted', '__proto__.hasOwnProperty']
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...operators), fc.constantFrom(...paths), fc.constantFrom(1, '1', [1], { polluted: 1 }), async (operator, path, value) => {
        stack.startRun()
        const text = JSON.stringify({ [operator]: { [path]: value } })
        const answer = await stack.sendRaw('PATCH', `/users/${user.id}`, text)
        stack.expectRefused(answer, `PATCH ${text}`)
        // A bare `__proto__` key is Fastify's to refuse (its JSON parser), a path naming one ums's.
        const code = path === '__proto__' ? 'FST_ERR_CTP_INVALID_JSON_BODY' : 'UMS_INVALID_UPDATE'
        expect(answer.body).toMatchObject({ statusCode: 400, code })
      }),
      { numRuns: 60 },
    )
    // ums is still up and the user as it was.
    const stored = await stack.handle.call('GET', `/users/${user.id}`)
    expect(stored.status).toBe(200)
    expect(stored.body).toMatchObject({ name: VALID_CUSTOMER.name })
    expectPrototypesIntact()
  })
})
