// Rönd emulator over real HTTP: routes, validation order and messages, Go-decoder errors,
// grant/revoke semantics, the 200-binding cap and the response shapes of the real service. Only
// the routes ums calls: not the resource-scoped grant and revoke.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { RondEmulator } from '../../src/sandbox/rond-emulator.js'

const rond = new RondEmulator()
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const GENERIC = 'Internal server error, please try again later'

interface Answer {
  status: number
  contentType: string | null
  text: string
  json: unknown
}

/** POSTs `body` as-is (a string) or JSON-encoded, with `application/json` unless told otherwise. */
async function call(path: string, body?: unknown, init: { method?: string; contentType?: string | null } = {}): Promise<Answer> {
  const headers: Record<string, string> = {}
  const contentType = init.contentType === undefined ? 'application/json' : init.contentType
  if (contentType !== null && body !== undefined) headers['content-type'] = contentType
  const response = await fetch(rond.url + path, {
    method: init.method ?? 'POST',
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await response.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: response.status, contentType: response.headers.get('content-type'), text, json }
}

function expectError(answer: Answer, status: number, reason: string) {
  expect(answer.status).toBe(status)
  expect(answer.contentType).toBe('application/json')
  expect(answer.json).toEqual({ error: reason, message: GENERIC, statusCode: status })
  expect(Object.keys(answer.json as object)).toEqual(['error', 'message', 'statusCode'])
}

beforeAll(async () => {
  await rond.start()
})
afterAll(async () => {
  await rond.close()
})
beforeEach(() => {
  rond.reset()
})

describe('inspection route of the sandbox', () => {
  it('GET /__emulator/bindings lists the stored bindings in creation order', async () => {
    const granted = await call('/grant/bindings', { subjects: ['u1'], roles: ['customer-basic'] })
    const seeded = rond.seedBinding({ subjects: ['u2'], roles: ['customer-premium'] })
    const answer = await call('/__emulator/bindings', undefined, { method: 'GET' })
    expect(answer.status).toBe(200)
    expect(answer.contentType).toBe('application/json')
    expect(answer.json).toEqual([{ bindingId: (granted.json as { bindingId: string }).bindingId, subjects: ['u1'], roles: ['customer-basic'] }, seeded])
  })
})

describe('status routes', () => {
  it.each(['/-/rbac-healthz'])('%s answers 200 OK', async (path) => {
    const answer = await call(path, undefined, { method: 'GET' })
    expect(answer.status).toBe(200)
    expect(answer.contentType).toBe('application/json')
    expect(answer.json).toMatchObject({ status: 'OK' })
  })
})

describe('POST /grant/bindings', () => {
  it('creates a binding with a UUID v4 and answers {bindingId} labelled text/plain', async () => {
    const answer = await call('/grant/bindings', { subjects: ['auth0|u1'], roles: ['editor', 'viewer'], groups: [] })
    expect(answer.status).toBe(200)
    expect(answer.contentType).toBe('text/plain; charset=utf-8')
    const { bindingId } = answer.json as { bindingId: string }
    expect(bindingId).toMatch(UUID_V4)
    expect(Object.keys(answer.json as object)).toEqual(['bindingId'])
    // Empty lists are omitted, no resource on the plain variant.
    expect(rond.bindings()).toEqual([{ bindingId, subjects: ['auth0|u1'], roles: ['editor', 'viewer'] }])
    expect(rond.rolesOf('auth0|u1')).toEqual(['editor', 'viewer'])
  })

  it('stores groups and permissions and ignores resourceId and unknown keys on the plain variant', async () => {
    const answer = await call('/grant/bindings', { groups: ['team-a'], permissions: ['p.view'], resourceId: 'x', extra: 1 })
    expect(answer.status).toBe(200)
    const [binding] = rond.bindings()
    expect(binding).toEqual({ bindingId: (answer.json as { bindingId: string }).bindingId, groups: ['team-a'], permissions: ['p.view'] })
  })

  it('never merges: identical grants create distinct bindings', async () => {
    const body = { subjects: ['u1'], roles: ['editor'] }
    const first = (await call('/grant/bindings', body)).json as { bindingId: string }
    const second = (await call('/grant/bindings', body)).json as { bindingId: string }
    expect(first.bindingId).not.toBe(second.bindingId)
    expect(rond.bindings().map((b) => b.bindingId)).toEqual([first.bindingId, second.bindingId])
  })

  it('rejects a body without groups, permissions, subjects or roles', async () => {
    expectError(
      await call('/grant/bindings', { subjects: [], roles: null }),
      400,
      'missing body fields, one of groups, permissions, subjects or roles is required',
    )
    expect(rond.bindings()).toEqual([])
  })

  it('decodes the body as JSON whatever the Content-Type, with case-insensitive keys', async () => {
    const answer = await call('/grant/bindings', '{"Subjects":["u1"],"ROLES":["r"]}', { contentType: 'text/plain' })
    expect(answer.status).toBe(200)
    expect(rond.bindings()[0]).toMatchObject({ subjects: ['u1'], roles: ['r'] })
    const noHeader = await call('/grant/bindings', '{"subjects":["u2"]}', { contentType: null })
    expect(noHeader.status).toBe(200)
  })

  it('decodes only the first JSON value, like Go json.Decoder', async () => {
    const answer = await call('/grant/bindings', '{"subjects":["u1"]} trailing garbage')
    expect(answer.status).toBe(200)
    expect(rond.requestsTo('POST', '/grant/bindings')[0]?.body).toEqual({ subjects: ['u1'] })
  })
})

describe('Go decoder errors → 500 with the decoder message', () => {
  it.each([
    ['empty body', '', 'EOF'],
    ['blank body', '  \n', 'EOF'],
    ['truncated object', '{"subjects":["u1"', 'unexpected EOF'],
    ['truncated literal', 'tru', 'unexpected EOF'],
    ['not JSON', 'subjects=u1', "invalid character 's' looking for beginning of value"],
    ['trailing comma in object', '{"subjects":["u1"],}', "invalid character '}' looking for beginning of object key string"],
    ['trailing comma in array', '{"subjects":["u1",]}', "invalid character ']' looking for beginning of value"],
    ['missing colon', '{"subjects" ["u1"]}', "invalid character '[' after object key"],
    ['missing comma', '{"a":1 "b":2}', `invalid character '"' after object key:value pair`],
    ['bad literal', '{"a":nul}', "invalid character '}' in literal null (expecting 'l')"],
    ['bad escape', '{"a":"\\q"}', "invalid character 'q' in string escape code"],
    ['control character in string', '{"a":"x\ny"}', "invalid character '\\n' in string literal"],
    ['bad number', '{"a":-x}', "invalid character 'x' in numeric literal"],
    ['top-level array', '[]', 'json: cannot unmarshal array into Go value of type service.GrantRequestBody'],
    ['top-level string', '"u1"', 'json: cannot unmarshal string into Go value of type service.GrantRequestBody'],
    ['list as string', '{"subjects":"u1"}', 'json: cannot unmarshal string into Go struct field GrantRequestBody.subjects of type []string'],
    ['number in list', '{"roles":[1]}', 'json: cannot unmarshal number into Go struct field GrantRequestBody.roles of type string'],
    ['resourceId as object', '{"resourceId":{}}', 'json: cannot unmarshal object into Go struct field GrantRequestBody.resourceId of type string'],
  ])('grant: %s', async (_name, body, reason) => {
    expectError(await call('/grant/bindings', body), 500, reason)
  })

  it('answers EOF for a POST without any body', async () => {
    expectError(await call('/grant/bindings'), 500, 'EOF')
    expectError(await call('/revoke/bindings'), 500, 'EOF')
  })

  it('names the revoke struct in type errors', async () => {
    expectError(
      await call('/revoke/bindings', { subjects: true }),
      500,
      'json: cannot unmarshal bool into Go struct field RevokeRequestBody.subjects of type []string',
    )
  })
})

describe('POST /revoke/bindings', () => {
  it('removes the subject everywhere, deleting bindings left without subjects and groups', async () => {
    const solo = rond.seedBinding({ subjects: ['u1'], roles: ['editor'] })
    const shared = rond.seedBinding({ subjects: ['u1', 'u2'], roles: ['viewer'], permissions: ['p'] })
    const withGroup = rond.seedBinding({ subjects: ['u1'], groups: ['g1'], roles: ['admin'] })
    const scoped = rond.seedBinding({ subjects: ['u1'], roles: ['x'], resource: { resourceType: 'project', resourceId: 'p1' } })
    const other = rond.seedBinding({ subjects: ['u3'], roles: ['editor'] })

    const answer = await call('/revoke/bindings', { subjects: ['u1'] })
    expect(answer.status).toBe(200)
    expect(answer.contentType).toBe('text/plain; charset=utf-8')
    expect(answer.json).toEqual({ deletedBindings: 2, modifiedBindings: 2 })
    // The bulk patch sets both lists; roles, permissions and resource are untouched.
    expect(rond.bindings()).toEqual([
      { bindingId: shared.bindingId, subjects: ['u2'], groups: [], roles: ['viewer'], permissions: ['p'] },
      { bindingId: withGroup.bindingId, subjects: [], groups: ['g1'], roles: ['admin'] },
      other,
    ])
    expect(rond.bindings().map((b) => b.bindingId)).not.toContain(solo.bindingId)
    expect(rond.bindings().map((b) => b.bindingId)).not.toContain(scoped.bindingId)
    expect(rond.rolesOf('u1')).toEqual([])
  })

  it('answers zero counts when nothing matches', async () => {
    rond.seedBinding({ subjects: ['u2'], roles: ['r'] })
    const answer = await call('/revoke/bindings', { subjects: ['u1'] })
    expect(answer.status).toBe(200)
    expect(answer.json).toEqual({ deletedBindings: 0, modifiedBindings: 0 })
    expect(rond.bindings()).toHaveLength(1)
  })

  it('rejects a request without subjects and groups, even with resourceIds on the plain variant', async () => {
    rond.seedBinding({ subjects: ['u1'], roles: ['r'], resource: { resourceType: 'project', resourceId: 'p1' } })
    const reason = 'empty subjects and groups lists or resource ids'
    expectError(await call('/revoke/bindings', {}), 400, reason)
    expectError(await call('/revoke/bindings', { subjects: [], groups: [] }), 400, reason)
    expectError(await call('/revoke/bindings', { resourceIds: ['p1'] }), 400, reason)
    expect(rond.bindings()).toHaveLength(1)
  })

  it('processes at most 200 bindings per call', async () => {
    for (let i = 0; i < 250; i++) rond.seedBinding({ subjects: ['u1'], roles: [`r${i}`] })
    expect((await call('/revoke/bindings', { subjects: ['u1'] })).json).toEqual({ deletedBindings: 200, modifiedBindings: 0 })
    // Lookup follows storage order: the 50 newest survive the first call.
    expect(rond.bindings().map((b) => b.roles?.[0])).toEqual(Array.from({ length: 50 }, (_, i) => `r${200 + i}`))
    expect((await call('/revoke/bindings', { subjects: ['u1'] })).json).toEqual({ deletedBindings: 50, modifiedBindings: 0 })
    expect(rond.bindings()).toEqual([])
  })

  it('counts shrunk bindings toward the cap too', async () => {
    for (let i = 0; i < 201; i++) rond.seedBinding({ subjects: ['u1', 'u2'], roles: ['r'] })
    expect((await call('/revoke/bindings', { subjects: ['u1'] })).json).toEqual({ deletedBindings: 0, modifiedBindings: 200 })
    expect(rond.bindings().filter((b) => b.subjects?.includes('u1'))).toHaveLength(1)
  })
})

describe('method restriction', () => {
  const routes = ['/grant/bindings', '/revoke/bindings']
  it.each(routes.flatMap((route) => ['GET', 'PUT', 'PATCH', 'DELETE'].map((method) => [method, route] as const)))(
    '%s %s answers 405 with an empty body',
    async (method, route) => {
      const body = method === 'GET' ? undefined : { subjects: ['u1'], roles: ['r'], resourceId: 'p1' }
      const answer = await call(route, body, { method })
      expect(answer.status).toBe(405)
      expect(answer.text).toBe('')
      expect(rond.bindings()).toEqual([])
    },
  )
})

describe('control surface', () => {
  it('returns copies and lets tests seed bindings with a chosen id', async () => {
    const seeded = rond.seedBinding({ bindingId: 'fixed', subjects: ['u1'], roles: ['a', 'b'] })
    rond.seedBinding({ subjects: ['u1', 'u2'], roles: ['b', 'c'] })
    expect(seeded.bindingId).toBe('fixed')
    expect(rond.rolesOf('u1')).toEqual(['a', 'b', 'c'])
    rond.bindings()[0]?.subjects?.push('intruder')
    expect(rond.bindings()[0]?.subjects).toEqual(['u1'])
  })

  it('applies injected faults through the base class, then the real handler again', async () => {
    rond.injectFault({ method: 'POST', path: '/grant/bindings', status: 503 })
    const faulted = await call('/grant/bindings', { subjects: ['u1'], roles: ['r'] })
    expect(faulted.status).toBe(503)
    expect(rond.bindings()).toEqual([])
    expect((await call('/grant/bindings', { subjects: ['u1'], roles: ['r'] })).status).toBe(200)
    expect(rond.requestsTo('POST', '/grant/bindings').map((r) => r.outcome)).toEqual([503, 200])
  })

  it('reset() clears bindings, faults and the request log', async () => {
    rond.seedBinding({ subjects: ['u1'], roles: ['r'] })
    rond.injectFault({ path: '/revoke/bindings', status: 500, times: Infinity })
    await call('/revoke/bindings', { subjects: ['u1'] })
    rond.reset()
    expect(rond.bindings()).toEqual([])
    expect(rond.requests).toEqual([])
    expect((await call('/revoke/bindings', { subjects: ['u1'] })).status).toBe(200)
  })
})
