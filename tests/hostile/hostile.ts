// Shared by the hostile-input suites: a stack whose error logs are captured, the property every
// hostile request must have (a 4xx, nothing written to any peer, no 5xx logged, the prototypes
// of the test process untouched: ums runs in it), and arbitraries of invalid JSON.
import fc from 'fast-check'
import { beforeEach, expect } from 'vitest'
import type { Stack } from '../../src/sandbox/stack.js'
import { LogCapture, useStack, type Answer, type StackHandle, type UseStackOptions } from '../helpers/stack.js'

/** Requests a peer may receive from a refused request: reads. */
const READ_METHODS = new Set(['GET', 'HEAD'])

/** Every request a peer received that could change it (any method but GET and HEAD), as `peer METHOD path`. */
export function peerWrites(stack: Stack): string[] {
  const peers = { crud: stack.crud, auth0: stack.auth0, rond: stack.rond, timer: stack.timer }
  return Object.entries(peers).flatMap(([name, peer]) =>
    peer.requests.filter((request) => !READ_METHODS.has(request.method)).map((request) => `${name} ${request.method} ${request.path}`),
  )
}

/** Every request the CRUD received, as `METHOD path` (path as sent, percent-encoding kept). */
export const crudCalls = (stack: Stack) => stack.crud.requests.map((request) => `${request.method} ${request.path}`)

const PROTOTYPES = { Object: Object.prototype, Array: Array.prototype, Function: Function.prototype, String: String.prototype }
const ownKeys = (prototype: object) => Reflect.ownKeys(prototype).map(String).sort()
const PROTOTYPE_KEYS = Object.fromEntries(Object.entries(PROTOTYPES).map(([name, prototype]) => [name, ownKeys(prototype)]))

/** No request added (or removed) a property of the built-in prototypes, e.g. through `__proto__`. */
export function expectPrototypesIntact(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  for (const [name, prototype] of Object.entries(PROTOTYPES)) expect(ownKeys(prototype), `${name}.prototype`).toEqual(PROTOTYPE_KEYS[name])
}

export interface HostileStack {
  readonly handle: StackHandle
  readonly current: Stack
  /** Forgets the peers' requests and the logged errors: call it first in every property run. */
  startRun(): void
  /** Sends `text` as it is, labelled application/json unless `headers` say otherwise. */
  sendRaw(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, text: string, headers?: Record<string, string>): Promise<Answer>
  /** The hostile-input property: a 4xx, no peer written to, no 5xx logged, the prototypes intact. */
  expectRefused(answer: Answer, request: string): void
}

/** A stack for the file (see useStack) logging at error level into a capture: a 5xx is always logged. */
export function useHostileStack(options: UseStackOptions = {}): HostileStack {
  const logs = new LogCapture()
  const handle = useStack({ ...options, logStream: logs, env: { LOG_LEVEL: 'error', ...options.env } })
  return {
    handle,
    get current() {
      return handle.current
    },
    startRun() {
      for (const peer of [handle.current.crud, handle.current.auth0, handle.current.rond, handle.current.timer]) peer.clearRequests()
      logs.lines.length = 0
    },
    sendRaw(method, path, text, headers = {}) {
      return handle.call(method, path, { raw: text, headers: { 'content-type': 'application/json', ...headers } })
    },
    expectRefused(answer, request) {
      const said = `${request.slice(0, 200)} → ${answer.status} ${answer.text.slice(0, 300)}`
      expect(answer.status, said).toBeGreaterThanOrEqual(400)
      expect(answer.status, said).toBeLessThan(500)
      expect(peerWrites(handle.current), said).toEqual([])
      expect(logs.lines, said).toEqual([])
      expectPrototypesIntact()
    },
  }
}

/** Field names: printable ASCII, now and then a name JavaScript treats specially. */
export const fieldName = fc.oneof(
  { weight: 8, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '$where', 'a.b', '') },
)

/** Any JSON value, strings in any Unicode. */
export const anyJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 4 })

/** A plain JSON object of random fields. */
export const anyObject = fc.dictionary(fieldName, anyJson, { maxKeys: 6 }) as fc.Arbitrary<Record<string, unknown>>

export const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/** JSON values that are not objects, null left out (a route may read it as no body). */
export const notAnObject = anyJson.filter((value) => value !== null && !isPlainObject(value))

/** What a request body or field of this shape must be to be refused whatever the rest holds. */
export interface ObjectShape {
  /** A body the route accepts. */
  valid: Record<string, unknown>
  /** Its required fields. */
  required: readonly string[]
  /** Whether fields outside `valid`'s are refused (additionalProperties: false). */
  closed: boolean
}

/**
 * Objects a route with this shape must refuse: not an object (or the valid body wrapped in an
 * array, which ajv's `coerceTypes: 'array'` must not unwrap), a required field missing, a required
 * field of the wrong type, and for a closed shape an extra field.
 */
export function invalidObjects(shape: ObjectShape): fc.Arbitrary<unknown> {
  const fields = Object.keys(shape.valid)
  const randomized = fc.record(Object.fromEntries(fields.map((field) => [field, anyJson])) as Record<string, fc.Arbitrary<unknown>>)
  const variants: Array<fc.Arbitrary<unknown>> = [
    notAnObject,
    fc.constant([shape.valid]),
    fc.tuple(fc.constantFrom(...shape.required), randomized).map(([missing, body]) => without(body, missing)),
    fc.constantFrom(...shape.required).chain((field) => wrongType(shape.valid[field]).map((value) => ({ ...shape.valid, [field]: value }))),
  ]
  if (shape.closed) {
    const extra = fieldName.filter((name) => !fields.includes(name))
    variants.push(fc.tuple(extra, anyJson).map(([name, value]) => ({ ...shape.valid, [name]: value })))
  }
  return fc.oneof(...variants)
}

/**
 * Values of another type than `valid`'s that no coercion of ajv (`coerceTypes: 'array'`) turns
 * into it: an object for a string, number, boolean or list; a non-object for an object.
 */
function wrongType(valid: unknown): fc.Arbitrary<unknown> {
  return isPlainObject(valid) ? notAnObject : anyObject
}

/** `body` without `field`. */
export function without(body: Record<string, unknown>, field: string): Record<string, unknown> {
  const copy = { ...body }
  delete copy[field]
  return copy
}

/** JSON text nested `depth` levels deep: arrays (`[[[…]]]`) or objects (`{"a":{"a":…}}`). */
export function nested(kind: 'array' | 'object', depth: number): string {
  return kind === 'array' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
}

/**
 * A user created through ums before each test (CRUD user, auth user, binding), so the routes with
 * an id read a real user before refusing; `id` is its `_id`.
 */
export function useSeededUser(stack: HostileStack, body: Record<string, unknown>): { readonly id: string } {
  let id = ''
  beforeEach(async () => {
    const created = await stack.handle.call<{ _id: string }>('POST', '/users/', { json: body })
    if (created.status !== 200) throw new Error(`seeding the user: ${created.status} ${created.text}`)
    id = created.body._id
  })
  return {
    get id() {
      return id
    },
  }
}
