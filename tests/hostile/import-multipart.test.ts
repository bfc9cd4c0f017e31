// Multipart abuse on PATCH /users/import: random forms (many parts, files under other names, huge
// and unknown fields, options no parser takes, files with no userGroup column), malformed bodies,
// and a part that never ends, sent over a raw socket that then stops writing. Each gets a 4xx (a
// stalled request a 408 and its connection closed, within the request timeout), nothing is written
// to any peer and no 5xx is logged. Before, a malformed body was a 500 and a stalled one held its
// connection forever (Fastify's requestTimeout was off).
import { connect } from 'node:net'
import fc from 'fast-check'
import { Client, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { REQUEST_TIMEOUT_MS } from '../../src/config/server.js'
import { loadConfig } from '../../src/config/index.js'
import { freePort, stackEnv, startEmulators, type Emulators } from '../../src/sandbox/stack.js'
import { LogCapture, type Answer } from '../helpers/stack.js'
import { sleep } from '../helpers/wait.js'
import { peerWrites, useHostileStack } from './hostile.js'

/** How long an answer may take, even on a loaded machine. */
const ANSWER_WITHIN_MS = 8_000

interface Part {
  name: string
  /** Present: a file part. */
  filename?: string
  content: Buffer
  /** Extra part headers. */
  headers?: string[]
}

/** A multipart/form-data body of `parts`, written by hand so any of it can be wrong. */
function multipartBody(boundary: string, parts: Part[]): Buffer {
  const chunks = parts.flatMap((part) => {
    const disposition = `Content-Disposition: form-data; name="${part.name}"${part.filename === undefined ? '' : `; filename="${part.filename}"`}`
    const headers = [disposition, ...(part.filename === undefined ? [] : ['Content-Type: text/csv']), ...(part.headers ?? [])]
    return [Buffer.from(`--${boundary}\r\n${headers.join('\r\n')}\r\n\r\n`), part.content, Buffer.from('\r\n')]
  })
  return Buffer.concat([...chunks, Buffer.from(`--${boundary}--\r\n`)])
}

async function sendImport(base: string, body: Buffer, contentType: string): Promise<Answer> {
  // An answer that does not come is a failure too (a hang), reported with the form that caused it.
  const response = await request(`${base}/users/import`, { method: 'PATCH', headers: { 'content-type': contentType }, body, signal: AbortSignal.timeout(ANSWER_WITHIN_MS) })
  const text = await response.body.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = text
  }
  return { status: response.statusCode, headers: response.headers, body: parsed, text }
}

/** Whether the bytes, read as utf8, latin1 or ascii, could hold a userGroup column. */
const namesUserGroup = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1').includes('userGroup')

/** File contents with no userGroup column: random bytes, CSV-looking text, now and then 1 to 2 MB. */
const fileWithoutUserGroup = fc
  .oneof(
    { weight: 6, arbitrary: fc.uint8Array({ maxLength: 300 }) },
    { weight: 6, arbitrary: fc.array(fc.array(fc.string({ maxLength: 8 }), { maxLength: 5 }), { maxLength: 6 }).map((rows) => Buffer.from(rows.map((row) => row.join(',')).join('\n'))) },
    { weight: 1, arbitrary: fc.integer({ min: 1_000_000, max: 2_000_000 }).map((size) => Buffer.alloc(size, 'name,surname\n')) },
  )
  .filter((bytes) => !namesUserGroup(bytes))
  .map((bytes) => Buffer.from(bytes))

/** Option values, valid or not; only encodings under which absent bytes mean an absent column. */
const optionField = fc.oneof(
  fc.tuple(fc.constant('delimiter'), fc.oneof(fc.constantFrom(',', ';', '\t', '|', '"', '\n', '', 'ab'), fc.string({ maxLength: 3 }))),
  fc.tuple(fc.constant('encoding'), fc.oneof(fc.constantFrom('utf8', 'latin1', 'ascii', 'nope', '', 'utf-7'), fc.string({ unit: fc.constantFrom(...'xyzq-'), maxLength: 6 }))),
  fc.tuple(fc.constant('escape'), fc.oneof(fc.constantFrom('"', '\\', 'null', '', 'ab'), fc.string({ maxLength: 3 }))),
)

/** A part of a hostile form: an option, an unknown field (now and then of 1 to 2 MB), or a file under any name. */
const hostilePart: fc.Arbitrary<Part> = fc.oneof(
  optionField.map(([name, value]): Part => ({ name, content: Buffer.from(value) })),
  fc.tuple(fc.string({ unit: fc.constantFrom(...'abcdefxyz_-'), maxLength: 12 }), fc.string({ maxLength: 50 })).map(([name, value]): Part => ({ name, content: Buffer.from(value) })),
  fc.integer({ min: 1_000_000, max: 2_000_000 }).map((size): Part => ({ name: 'comment', content: Buffer.alloc(size, 'x') })),
  fc.tuple(fc.constantFrom('file', 'file', 'files', 'upload', 'File', ''), fileWithoutUserGroup).map(([name, content]): Part => ({ name, filename: 'users.csv', content })),
  fc.tuple(fc.integer({ min: 1, max: 200 }), fileWithoutUserGroup).map(([count, content]): Part => ({
    name: 'file',
    filename: 'users.csv',
    content,
    headers: Array.from({ length: count }, (_, index) => `X-Header-${index}: ${index}`),
  })),
)

describe('PATCH /users/import with hostile multipart bodies', () => {
  const stack = useHostileStack()

  it('random forms (up to 60 parts, huge fields, files without a userGroup column): 4xx, no peer written to', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostilePart, { maxLength: 60 }), async (parts) => {
        stack.startRun()
        const answer = await sendImport(stack.current.url, multipartBody('hostile-boundary', parts), 'multipart/form-data; boundary=hostile-boundary')
        const described = parts.map((part) => `${part.filename === undefined ? 'field' : 'file'} ${JSON.stringify(part.name)} (${part.content.length} bytes)`).join(', ')
        stack.expectRefused(answer, `form of ${parts.length} parts: ${described}`)
      }),
      { numRuns: 60 },
    )
  })

  it('bodies that are not multipart as announced: 4xx, no peer written to', async () => {
    const boundary = fc.string({ unit: fc.constantFrom(...'abcXYZ0123-_'), minLength: 1, maxLength: 20 })
    const contentType = fc.oneof(
      boundary.map((value) => `multipart/form-data; boundary=${value}`),
      fc.constantFrom('multipart/form-data', 'multipart/form-data; boundary=', 'multipart/mixed; boundary=x', 'application/octet-stream', 'text/csv'),
    )
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 500 }).map((bytes) => Buffer.from(bytes)),
      boundary.map((value) => Buffer.from(`--${value}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nname\r\n`)),
      boundary.map((value) => Buffer.from(`--${value}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--${value}--\r\n`)),
      boundary.map((value) => Buffer.from(`--${value}\r\nno header end`)),
    )
    await fc.assert(
      fc.asyncProperty(contentType, body.filter((bytes) => !namesUserGroup(bytes)), async (type, bytes) => {
        stack.startRun()
        const answer = await sendImport(stack.current.url, bytes, type)
        stack.expectRefused(answer, `${type}: ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}`)
      }),
      { numRuns: 80 },
    )
  })

  it('a body the multipart parser cannot read: 400 UMS_INVALID_REQUEST, not 500', async () => {
    const cases: Array<[name: string, type: string, text: string]> = [
      ['no boundary', 'multipart/form-data', '--x\r\n'],
      ['no part', 'multipart/form-data; boundary=abc', 'hello'],
      ['a part cut short', 'multipart/form-data; boundary=abc', '--abc\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nuserGroup,name\r\n'],
    ]
    for (const [name, type, text] of cases) {
      stack.startRun()
      const answer = await sendImport(stack.current.url, Buffer.from(text), type)
      stack.expectRefused(answer, name)
      expect(answer.body, name).toMatchObject({ statusCode: 400, code: 'UMS_INVALID_REQUEST', message: expect.stringMatching(/^The multipart body could not be read: /) })
    }
  })

  it('rows that cannot be imported, __proto__ and constructor columns among them: 200 listing every row, nothing written', async () => {
    const columns = fc.uniqueArray(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'age', 'email', 'tags'), { minLength: 1, maxLength: 4 })
    const cell = fc.oneof(fc.constantFrom('{"polluted":1}', '[polluted]', 'x', ''), fc.string({ unit: fc.constantFrom(...'abc[]{}:1 '), maxLength: 8 }))
    await fc.assert(
      fc.asyncProperty(columns, fc.array(cell, { minLength: 1, maxLength: 20 }), async (names, cells) => {
        stack.startRun()
        // No name or surname: the customer schema refuses every (well-formed, quoted) row.
        const quoted = (value: string) => `"${value.replace(/"/g, '""')}"`
        const rows = cells.map((value) => ['customer', ...names.map(() => quoted(value))].join(';'))
        const csv = `${['userGroup', ...names].join(';')}\n${rows.join('\n')}\n`
        const parts: Part[] = [{ name: 'delimiter', content: Buffer.from(';') }, { name: 'file', filename: 'users.csv', content: Buffer.from(csv) }]
        const answer = await sendImport(stack.current.url, multipartBody('rows', parts), 'multipart/form-data; boundary=rows')
        const said = `${csv.slice(0, 300)} → ${answer.status} ${answer.text.slice(0, 300)}`
        expect(answer.status, said).toBe(200)
        expect(answer.body, said).toMatchObject({ updated: [], inserted: [] })
        expect((answer.body as { invalid: unknown[] }).invalid, said).toHaveLength(cells.length)
        expect(peerWrites(stack.current), said).toEqual([])
        expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      }),
      { numRuns: 30 },
    )
  })

  it('an upload refused before its body has arrived ends its connection: the next request on it is answered', async () => {
    // Before, the 413 came on a keep-alive connection with 2 MB of the body still unread on it:
    // the client could neither finish the upload nor get an answer to the next request it sent.
    stack.startRun()
    const client = new Client(stack.current.url, { pipelining: 1, connections: 1 } as ConstructorParameters<typeof Client>[1])
    try {
      const send = async (parts: Part[]) => {
        const response = await client.request({
          method: 'PATCH',
          path: '/users/import',
          headers: { 'content-type': 'multipart/form-data; boundary=early' },
          body: multipartBody('early', parts),
          signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
        })
        return { status: response.statusCode, connection: response.headers.connection, text: await response.body.text() }
      }
      const refused = await send([
        { name: 'file', filename: 'users.csv', content: Buffer.alloc(1_100_000, 'name,surname\n') },
        { name: 'other', filename: 'other.csv', content: Buffer.alloc(2_000_000, 'x') },
      ])
      expect(refused).toMatchObject({ status: 413, connection: 'close' })
      const next = await send([{ name: 'comment', content: Buffer.alloc(1_000_000, 'x') }])
      expect(next.status, next.text).toBe(400)
    } finally {
      await client.destroy()
    }
    expect(peerWrites(stack.current)).toEqual([])
  })

  it(`never waits forever for a request: the request timeout is on (${REQUEST_TIMEOUT_MS} ms, Node's default)`, () => {
    expect(REQUEST_TIMEOUT_MS).toBeGreaterThan(0)
    expect(stack.current.app.server.requestTimeout).toBe(REQUEST_TIMEOUT_MS)
  })
})

describe('PATCH /users/import with a part that never ends', () => {
  const REQUEST_TIMEOUT = 1_000
  const logs = new LogCapture()
  let emulators: Emulators
  let app: Awaited<ReturnType<typeof buildApp>>
  let port = 0

  // The stack's wiring (src/sandbox/stack.ts), with a request timeout short enough to wait out.
  beforeAll(async () => {
    emulators = await startEmulators()
    port = await freePort()
    const config = await loadConfig({ ...stackEnv(emulators.urls, port), LOG_LEVEL: 'error' }, { useProcessEnv: false })
    app = await buildApp(config, { logStream: logs, requestTimeoutMs: REQUEST_TIMEOUT })
    await app.listen({ host: '127.0.0.1', port })
  })
  afterAll(async () => {
    await app?.close()
    await emulators?.close()
  })

  /** Sends the request's head and `start` of its body over a raw socket, then stops writing; resolves with what came back once the server closed the connection. */
  function stall(head: string, start: string): Promise<{ received: string; closedAfterMs: number }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1')
      const started = Date.now()
      let received = ''
      const giveUp = setTimeout(() => {
        socket.destroy()
        reject(new Error(`the connection was still open after ${REQUEST_TIMEOUT * 8} ms; received ${JSON.stringify(received)}`))
      }, REQUEST_TIMEOUT * 8)
      socket.on('data', (chunk) => {
        received += chunk.toString('latin1')
      })
      socket.on('error', () => undefined)
      socket.on('close', () => {
        clearTimeout(giveUp)
        resolve({ received, closedAfterMs: Date.now() - started })
      })
      socket.write(`${head}${start}`)
    })
  }

  const boundary = 'never-ending'
  const partStart = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="users.csv"\r\nContent-Type: text/csv\r\n\r\nuserGroup,name,surname\r\ncustomer,Ada,Lovelace\r\n`

  for (const [framing, head, start] of [
    ['chunked', 'Transfer-Encoding: chunked', `${Buffer.byteLength(partStart).toString(16)}\r\n${partStart}\r\n`],
    ['with a content-length', 'Content-Length: 1000000', partStart],
  ] as const) {
    it(`${framing}: 408 and the connection closed once the request timeout is over, nothing written`, async () => {
      for (const emulator of [emulators.crud, emulators.auth0, emulators.rond, emulators.timer]) emulator.clearRequests()
      logs.lines.length = 0
      const requestHead = `PATCH /users/import HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\n${head}\r\n\r\n`
      const { received, closedAfterMs } = await stall(requestHead, start)
      expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/)
      expect(closedAfterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT)
      // The stalled upload's handler ends too, and its end is no 5xx.
      await sleep(100)
      expect(logs.lines).toEqual([])
      const writes = [emulators.crud, emulators.auth0, emulators.rond, emulators.timer].flatMap((emulator) => emulator.requests.filter((call) => call.method !== 'GET'))
      expect(writes).toEqual([])
    })
  }
})
