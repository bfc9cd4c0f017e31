// PATCH /users/import with small limits (batch size 3, 2 KB files, 300 ms timeouts): batching and
// pipelining, the size limit, and every peer step failing (500, 503, timeout, reset, refused).
import { describe, expect, it } from 'vitest'
import type { FastifyRequest } from 'fastify'
import type { FaultRule } from '../../src/sandbox/emulator-kit.js'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { Stack } from '../../src/sandbox/stack.js'
import { useStack } from '../helpers/stack.js'
import { csvOf, uploadCsv } from '../helpers/upload.js'

interface ImportAnswer {
  updated: string[]
  inserted: string[]
  invalid: Array<{ row: number; error: string }>
}

const SMALL = { USER_IMPORT_BATCH_SIZE: '3', USER_IMPORT_MAX_FILE_SIZE: '2048', UPSTREAM_TIMEOUT_MS: '300' }
const BULK = `${USERS_ENDPOINT}/bulk`

const rowsOf = (count: number, from = 0) =>
  Array.from({ length: count }, (_, index) => ['customer', `Name${from + index}`, 'S', `u${from + index}@example.com`])

/** Every user with an expirationDate has its pending timer, and every pending timer its user. */
function expectExpiriesConsistent(stack: Stack): void {
  const users = stack.crud.documents(USERS_ENDPOINT)
  const pending = stack.timer.expirations().filter((timer) => timer.expirationStatus.description === 'pending')
  for (const user of users) {
    if (user.expirationDate === undefined) continue
    expect(pending.map((timer) => timer.expirationId), `user ${String(user._id)} has no pending timer`).toContain(user.expirationId)
  }
  for (const timer of pending) {
    expect(users.map((user) => user.expirationId), `timer ${timer.expirationId} has no user`).toContain(timer.expirationId)
  }
}

describe('PATCH /users/import: batches and limits', () => {
  const stack = useStack({ env: SMALL })
  const upload = (csv: string, options?: Parameters<typeof uploadCsv>[2]) => uploadCsv<ImportAnswer>(stack.current.url, csv, options)

  it('sends inserts and patches in CRUD bulk calls of USER_IMPORT_BATCH_SIZE rows', async () => {
    const ids = stack.current.crud.seed(USERS_ENDPOINT, rowsOf(4, 100).map(([userGroup, name, surname]) => ({ userGroup, name, surname })))
    const rows = [
      ['_id', 'userGroup', 'name', 'surname', 'email'],
      ...rowsOf(7).map((cells) => ['', ...cells]),
      ...ids.map((id, index) => [id, 'customer', `Patched${index}`, 'S', '']),
    ]
    const answer = await upload(csvOf(rows))
    expect(answer.status).toBe(200)
    expect(answer.body.invalid).toEqual([])
    expect(answer.body.inserted).toHaveLength(7)
    expect(answer.body.updated).toEqual(ids)
    const sizes = (method: string) => stack.current.crud.requestsTo(method, BULK).map((call) => (call.body as unknown[]).length)
    expect(sizes('POST')).toEqual([3, 3, 1])
    expect(sizes('PATCH')).toEqual([3, 1])
    expect(stack.current.crud.documents(USERS_ENDPOINT)).toHaveLength(11)
  })

  it('keeps two batches in flight while parsing, never more', async () => {
    stack.current.crud.injectFault({ method: 'POST', path: BULK, delayMs: 200, times: Infinity })
    const answer = await upload(csvOf([['userGroup', 'name', 'surname', 'email'], ...rowsOf(18)]))
    expect(answer.body.inserted).toHaveLength(18)
    const arrivals = stack.current.crud.requestsTo('POST', BULK).map((call) => call.at.getTime())
    expect(arrivals).toHaveLength(6)
    // The second batch goes out while the first is still being written...
    expect(arrivals[1]! - arrivals[0]!).toBeLessThan(150)
    // ...and a third only once one of them has been answered.
    for (let index = 2; index < arrivals.length; index += 1) expect(arrivals[index]! - arrivals[index - 2]!).toBeGreaterThanOrEqual(190)
  })

  it('retries only the refused batch row by row, the other batches stay bulk', async () => {
    stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'Taken', surname: 'S', email: 'u4@example.com' }])
    const answer = await upload(csvOf([['userGroup', 'name', 'surname', 'email'], ...rowsOf(9)]))
    expect(answer.body.invalid).toEqual([{ row: 5, error: 'Skipping record: email already exists' }])
    expect(answer.body.inserted).toHaveLength(8)
    expect(stack.current.crud.documents(USERS_ENDPOINT)).toHaveLength(9)
    expect(stack.current.crud.requestsTo('POST', BULK)).toHaveLength(3)
    // Row 4 went in with the refused bulk call; rows 5 and 6 were then tried one at a time.
    expect(stack.current.crud.requestsTo('POST', `${USERS_ENDPOINT}/`)).toHaveLength(2)
  })

  it('answers 413 over USER_IMPORT_MAX_FILE_SIZE, whatever the order of the parts, writing nothing', async () => {
    const big = csvOf([['userGroup', 'name', 'surname', 'email'], ...rowsOf(200)])
    expect(Buffer.byteLength(big)).toBeGreaterThan(2048)
    for (const fieldsFirst of [false, true]) {
      const answer = await upload(big, { fields: { delimiter: ',' }, fieldsFirst })
      expect(answer.status).toBe(413)
      expect(answer.body).toEqual({ statusCode: 413, error: 'Payload Too Large', message: 'The file is larger than USER_IMPORT_MAX_FILE_SIZE (2048 bytes)', code: 'UMS_FILE_TOO_LARGE' })
    }
    expect(stack.current.crud.requests.filter((call) => call.path.startsWith(USERS_ENDPOINT))).toEqual([])

    const header = 'userGroup,name,surname\ncustomer,A,B\n'
    const exact = await upload(header.padEnd(2048, '\n'))
    expect(exact.status).toBe(200)
    expect(exact.body.inserted).toHaveLength(1)
    expect((await upload(header.padEnd(2049, '\n'))).status).toBe(413)
  })
})

/** A CRUD `PATCH /users/bulk` whose items `$set` `field`. */
const bulkSetting = (field: string) => (request: FastifyRequest) =>
  Array.isArray(request.body) && request.body.some((item: { update?: { $set?: object } }) => item.update?.$set !== undefined && field in item.update.$set)

type Peer = 'crud' | 'timer'

/** `settlesWhenLost`: a lost answer is read back (nothing landed) and the rows inserted one by one. */
const STEPS: Array<{ name: string; peer: Peer; rule: FaultRule; call: string; settlesWhenLost?: boolean }> = [
  { name: 'group read', peer: 'crud', rule: { method: 'GET', path: '/ums-config/' }, call: 'CRUD GET /ums-config/' },
  { name: 'bulk insert', peer: 'crud', rule: { method: 'POST', path: BULK }, call: 'CRUD POST /users/bulk', settlesWhenLost: true },
  { name: 'bulk patch', peer: 'crud', rule: { method: 'PATCH', path: BULK, match: bulkSetting('name') }, call: 'CRUD PATCH /users/bulk' },
  { name: 'timer schedule', peer: 'timer', rule: { method: 'POST', path: '/schedule' }, call: 'TIMER POST /schedule' },
  { name: 'expirationId set', peer: 'crud', rule: { method: 'PATCH', path: BULK, match: bulkSetting('expirationId') }, call: 'CRUD PATCH /users/bulk' },
]

const FAULTS: Array<[string, Partial<FaultRule>, string]> = [
  ['500', { status: 500 }, 'responded with a 500 status code'],
  ['503', { status: 503 }, 'responded with a 503 status code'],
  ['timeout', { hang: true }, 'failed: timeout after 300 ms'],
  ['reset', { reset: true }, 'failed: connection reset'],
]

const CASES = STEPS.flatMap((step) => FAULTS.map(([fault, rule, suffix]) => ({ step, fault, rule, suffix })))

describe('PATCH /users/import with a failing peer step', () => {
  const stack = useStack({ env: SMALL })

  it.each(CASES)('$step.name answering $fault: 500 naming the call (200 once a lost insert is settled), no user without its timer', async ({ step, rule, suffix }) => {
    const [seeded] = stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'Seeded', surname: 'S' }])
    stack.current[step.peer].injectFault({ ...step.rule, ...rule })
    const csv = csvOf([
      ['_id', 'userGroup', 'name', 'surname', 'expirationDate'],
      ['', 'customer', 'Expiring', 'S', '2031-01-01T00:00:00.000Z'],
      [seeded!, 'customer', 'Renamed', 'S', ''],
    ])
    const answer = await uploadCsv(stack.current.url, csv)
    if (step.settlesWhenLost && (rule.hang === true || rule.reset === true)) {
      expect(answer.status).toBe(200)
      expect(stack.current.crud.documents(USERS_ENDPOINT).filter((user) => user.name === 'Expiring')).toHaveLength(1)
      expectExpiriesConsistent(stack.current)
      return
    }
    expect(answer.status).toBe(500)
    expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `Error while importing user: ${step.call} ${suffix}`, code: 'UMS_UPSTREAM_FAILED' })
    expectExpiriesConsistent(stack.current)
    expect(stack.current.crud.documents(USERS_ENDPOINT).filter((user) => user.name === 'Expiring' && user.expirationId === undefined)).toEqual([])
  })

  it('answers with the rows once the peers are back', async () => {
    stack.current.crud.injectFault({ method: 'POST', path: BULK, status: 503 })
    const csv = csvOf([['userGroup', 'name', 'surname'], ['customer', 'A', 'S']])
    expect((await uploadCsv(stack.current.url, csv)).status).toBe(500)
    const again = await uploadCsv<ImportAnswer>(stack.current.url, csv)
    expect(again.status).toBe(200)
    expect(again.body.inserted).toHaveLength(1)
  })
})

describe('PATCH /users/import with a peer refusing connections', () => {
  const stack = useStack({ env: SMALL, unreachable: ['timer'] })

  it('fails with the refused call and deletes the user whose expiry could not be scheduled', async () => {
    const csv = csvOf([
      ['userGroup', 'name', 'surname', 'expirationDate'],
      ['customer', 'Expiring', 'S', '2031-01-01T00:00:00.000Z'],
    ])
    const answer = await uploadCsv(stack.current.url, csv)
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while importing user: TIMER POST /schedule failed: connection refused')
    expect(stack.current.crud.documents(USERS_ENDPOINT)).toEqual([])
  })

  it('imports users without an expirationDate without calling the Timer Service', async () => {
    const answer = await uploadCsv<ImportAnswer>(stack.current.url, csvOf([['userGroup', 'name', 'surname'], ['customer', 'A', 'S']]))
    expect(answer.status).toBe(200)
    expect(answer.body.inserted).toHaveLength(1)
  })
})
