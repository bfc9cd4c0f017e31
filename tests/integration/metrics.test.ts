// GET /-/metrics over HTTP: a scripted sequence (users created, a failing step rolled back, an undo
// that fails, transport failures, jobs, a CSV import), then one scrape whose ums series must be
// exactly the expected ones, with no id, email or other caller data in any label. Also: silent in
// the request logs, listed in the OpenAPI document, at the root under a SERVICE_PREFIX, and gone
// with EXPOSE_METRICS=false.
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { LogCapture, useStack, type StackHandle } from '../helpers/stack.js'
import { csvOf, uploadCsv } from '../helpers/upload.js'
import { waitUntil } from '../helpers/wait.js'

const STATUS_PATH = /^\/users\/import\/status\/[^/]+$/
const UNKNOWN_ID = '0123456789abcdef01234567'
const UNKNOWN_AUTH_ID = 'auth0|000000000000000000000000'

interface Series {
  name: string
  labels: Record<string, string>
  value: number
}

/** The samples of a Prometheus text exposition. */
function parseExposition(text: string): Series[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
      if (!match) throw new Error(`not a sample line: ${line}`)
      const labels: Record<string, string> = {}
      for (const [, name, value] of match[2]?.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g) ?? []) labels[name!] = value!
      return { name: match[1]!, labels, value: Number(match[3]) }
    })
}

async function scrape(stack: StackHandle): Promise<Series[]> {
  const answer = await stack.call('GET', '/-/metrics')
  expect(answer.status).toBe(200)
  expect(answer.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
  return parseExposition(answer.text)
}

/** `name`'s samples as `{...labels, value}`, sorted, for exact comparisons. */
function samples(series: Series[], name: string): Array<Record<string, string | number>> {
  return series
    .filter((sample) => sample.name === name)
    .map((sample) => ({ ...sample.labels, value: sample.value }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
}

const user = (name: string, extra: Record<string, unknown> = {}) => ({
  userGroup: 'customer',
  name,
  surname: 'Rossi',
  email: `${name.toLowerCase()}@example.com`,
  username: name.toLowerCase(),
  ...extra,
})

describe('GET /-/metrics', () => {
  const logs = new LogCapture()
  const stack = useStack({
    // The Timer Service is unreachable: an expiring user's creation fails with a refused call.
    unreachable: ['timer'],
    env: {
      LOG_LEVEL: 'info',
      UPSTREAM_TIMEOUT_MS: '1000',
      AUTH0_JOB_POLLING_INTERVAL: '50',
      AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: '2',
    },
    logStream: logs,
    auth0: { importTiming: { mode: 'manual' } },
  })

  it('counts peer calls, rollbacks, jobs and import rows with closed label sets and no caller data', async () => {
    const { crud, auth0, rond } = stack.current
    const personal: string[] = []

    const anna = await stack.call('POST', '/users/', { json: user('Anna', { roles: ['customer-basic'] }) })
    expect(anna.status).toBe(200)
    const annaId = anna.body._id as string
    personal.push(annaId, 'anna@example.com')

    // A step fails: the CRUD and auth users are undone.
    rond.injectFault({ method: 'POST', path: '/grant/bindings', status: 500 })
    expect((await stack.call('POST', '/users/', { json: user('Bruno', { roles: ['customer-basic'] }) })).status).toBe(500)
    // A step fails and one undo fails too.
    rond.injectFault({ method: 'POST', path: '/grant/bindings', status: 500 })
    auth0.injectFault({ method: 'DELETE', path: /^\/users\//, status: 500 })
    expect((await stack.call('POST', '/users/', { json: user('Carla', { roles: ['customer-basic'] }) })).status).toBe(500)
    personal.push(...auth0.listUsers().map((authUser) => authUser.user_id))
    // The Timer Service refuses the connection: undone.
    expect((await stack.call('POST', '/users/', { json: user('Dario', { expirationDate: '2031-01-01T00:00:00.000Z' }) })).status).toBe(500)
    // A PATCH whose Rönd grant fails after the CRUD write: undone.
    rond.injectFault({ method: 'POST', path: '/grant/bindings', status: 500 })
    expect((await stack.call('PATCH', `/users/${annaId}`, { json: { $set: { roles: ['customer-premium'] } } })).status).toBe(500)
    // Transport failures of a proxied read.
    crud.injectFault({ method: 'GET', path: `/users/${annaId}`, reset: true })
    expect((await stack.call('GET', `/users/${annaId}`)).status).toBe(500)
    crud.injectFault({ method: 'GET', path: `/users/${annaId}`, hang: true })
    expect((await stack.call('GET', `/users/${annaId}`)).status).toBe(500)

    // Two change-password jobs: one at a time, the second queued behind the first.
    const authIds = ['Elio', 'Fede', 'Gino', 'Ivo'].map((name) => {
      const email = `${name.toLowerCase()}@example.com`
      const authUser = auth0.seedUser({ email, username: name.toLowerCase(), password: 'Secret-Pass1' })
      crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name, surname: 'S', email, authUserId: authUser.user_id }])
      personal.push(authUser.user_id, email)
      return authUser.user_id
    })
    const first = await stack.call('POST', '/jobs/change-password/bulk', { json: { authUsersIds: authIds.slice(0, 3) } })
    const second = await stack.call('POST', '/jobs/change-password/bulk', { json: { authUsersIds: [authIds[3], UNKNOWN_AUTH_ID] } })
    expect([first.status, second.status]).toEqual([202, 202])
    personal.push(first.body.jobId, second.body.jobId)
    const whileQueued = await scrape(stack)
    expect(samples(whileQueued, 'ums_jobs').filter((sample) => sample.kind === 'change-password')).toEqual([
      { kind: 'change-password', status: 'queued', value: 1 },
      { kind: 'change-password', status: 'running', value: 1 },
    ])
    for (const job of [first, second]) {
      await waitUntil(async () => (await stack.call('GET', `/jobs/change-password/bulk/${job.body.jobId}`)).body.status === 'completed', 'a change-password job')
    }

    // A bulk activation: two users activated, one skipped (already linked), one unknown.
    const nino = auth0.seedUser({ email: 'nino@example.com', username: 'nino', password: 'Secret-Pass1' })
    const [crudOnlyA, crudOnlyB, linked] = crud.seed(USERS_ENDPOINT, [
      { userGroup: 'customer', name: 'Lia', surname: 'S', email: 'lia@example.com', username: 'lia' },
      { userGroup: 'customer', name: 'Max', surname: 'S', email: 'max@example.com', username: 'max' },
      { userGroup: 'customer', name: 'Nino', surname: 'S', email: 'nino@example.com', authUserId: nino.user_id },
    ])
    personal.push(crudOnlyA!, crudOnlyB!, linked!, nino.user_id, 'lia@example.com', 'max@example.com', 'nino@example.com')
    const activation = await stack.call('POST', '/jobs/bulk-activation', {
      json: [crudOnlyA, crudOnlyB, linked, UNKNOWN_ID].map((userId) => ({ filter: { userId } })),
    })
    expect(activation.status).toBe(202)
    personal.push(activation.body.jobId)
    await waitUntil(() => auth0.requestsTo('GET', STATUS_PATH).length > 0, 'the import job polled')
    const whileRunning = await scrape(stack)
    expect(samples(whileRunning, 'ums_jobs').filter((sample) => sample.kind === 'bulk-activation')).toEqual([
      { kind: 'bulk-activation', status: 'queued', value: 0 },
      { kind: 'bulk-activation', status: 'running', value: 1 },
    ])
    const auth0JobId = decodeURIComponent(auth0.requestsTo('GET', STATUS_PATH)[0]!.path).split('/').pop()!
    auth0.advanceImportJob(auth0JobId, 'completed')
    await waitUntil(async () => (await stack.call('GET', `/jobs/bulk-activation/${activation.body.jobId}`)).body.status === 'completed', 'the activation job')

    // A CSV import: one row inserted, one updated, one invalid (no surname).
    const csv = csvOf([
      ['_id', 'userGroup', 'name', 'surname', 'email'],
      ['', 'customer', 'Olga', 'Verdi', 'olga@example.com'],
      [annaId, 'customer', 'Annalisa', 'Rossi', 'anna@example.com'],
      ['', 'customer', 'Pia', '', 'pia@example.com'],
    ])
    const imported = await uploadCsv(stack.current.url, csv)
    expect(imported.status).toBe(200)
    expect([imported.body.inserted.length, imported.body.updated.length, imported.body.invalid.length]).toEqual([1, 1, 1])
    personal.push(...imported.body.inserted, 'olga@example.com', 'pia@example.com')

    const answer = await stack.call('GET', '/-/metrics')
    const series = parseExposition(answer.text)

    expect(samples(series, 'ums_rollbacks_total')).toEqual([
      { operation: 'createUser', result: 'undo_failed', value: 1 },
      { operation: 'createUser', result: 'undone', value: 2 },
      { operation: 'updateUser', result: 'undone', value: 1 },
    ])
    expect(samples(series, 'ums_job_items_total')).toEqual([
      { kind: 'bulk-activation', outcome: 'failed', value: 1 },
      { kind: 'bulk-activation', outcome: 'inserted', value: 2 },
      { kind: 'bulk-activation', outcome: 'skipped', value: 1 },
      { kind: 'change-password', outcome: 'completed', value: 4 },
      { kind: 'change-password', outcome: 'failed', value: 1 },
    ])
    const jobs = samples(series, 'ums_jobs')
    expect(jobs.filter((sample) => sample.kind === 'change-password' || sample.kind === 'bulk-activation')).toEqual([
      { kind: 'bulk-activation', status: 'queued', value: 0 },
      { kind: 'bulk-activation', status: 'running', value: 0 },
      { kind: 'change-password', status: 'queued', value: 0 },
      { kind: 'change-password', status: 'running', value: 0 },
    ])
    for (const sample of jobs) expect(Object.keys(sample).sort()).toEqual(['kind', 'status', 'value'])
    expect(samples(series, 'ums_import_rows_total')).toEqual([
      { outcome: 'inserted', value: 1 },
      { outcome: 'invalid', value: 1 },
      { outcome: 'updated', value: 1 },
    ])

    const peerCalls = series.filter((sample) => sample.name === 'ums_peer_request_duration_seconds_count')
    const callKeys = peerCalls.map(({ labels }) => `${labels.peer} ${labels.method} ${labels.route} ${labels.outcome}`)
    expect(callKeys.sort()).toEqual([
      'AUTH DELETE /users/:userID 204',
      'AUTH DELETE /users/:userID 500',
      'AUTH GET /users 200',
      'AUTH GET /users/import/status/:jobID 200',
      'AUTH GET /users/import/status/:jobID/errors 204',
      'AUTH POST /change-password 200',
      'AUTH POST /users 201',
      'AUTH POST /users/import 201',
      'CRUD DELETE /users/:id 204',
      'CRUD GET /ums-config/ 200',
      'CRUD GET /users/ 200',
      'CRUD GET /users/:id 200',
      'CRUD GET /users/:id reset',
      'CRUD GET /users/:id timeout',
      'CRUD PATCH /users/:id 200',
      'CRUD PATCH /users/bulk 200',
      'CRUD POST /users/ 200',
      'CRUD POST /users/bulk 200',
      'ROND POST /grant/bindings 200',
      'ROND POST /grant/bindings 500',
      'ROND POST /revoke/bindings 200',
      'TIMER POST /schedule refused',
    ])
    for (const { labels } of peerCalls) {
      expect(Object.keys(labels).sort()).toEqual(['method', 'outcome', 'peer', 'route'])
      expect(['CRUD', 'AUTH', 'ROND', 'TIMER']).toContain(labels.peer)
      expect(labels.outcome).toMatch(/^([1-5]\d\d|timeout|refused|reset|error)$/)
      expect(labels.route).toMatch(/^(\/([a-z-]+|:[A-Za-z]+))*\/?$/)
    }

    // The process and HTTP metrics are there, their routes templates too.
    expect(series.some((sample) => sample.name === 'process_cpu_user_seconds_total')).toBe(true)
    expect(series.find((sample) => sample.name === 'http_request_duration_seconds_count' && sample.labels.route === '/users/:id' && sample.labels.method === 'PATCH')).toBeDefined()

    // No label anywhere carries an id, an email or another value a caller sent.
    const values = series.flatMap((sample) => Object.values(sample.labels))
    for (const value of values) {
      expect(value).not.toMatch(/@|auth0\||[0-9a-f]{24}|[0-9a-f]{8}-[0-9a-f]{4}-/)
    }
    for (const value of [...personal, UNKNOWN_ID, UNKNOWN_AUTH_ID, 'Anna', 'Olga']) expect(answer.text).not.toContain(value)
  })

  it('writes no request log line, like the status routes', async () => {
    logs.lines.length = 0
    expect((await stack.call('GET', '/-/metrics')).status).toBe(200)
    expect((await stack.call('GET', '/users/count')).status).toBe(200)
    const paths = logs.records.filter((record) => record.msg === 'request completed').map((record) => (record.url as { path: string }).path)
    expect(paths).toEqual(['/users/count'])
  })

  it('is listed in the OpenAPI document with the status routes', async () => {
    const document = await stack.call('GET', '/documentation/json')
    expect(document.body.paths['/-/metrics'].get).toMatchObject({ operationId: 'metrics', tags: ['Status'] })
  })
})

describe('GET /-/metrics under a SERVICE_PREFIX', () => {
  const stack = useStack({ env: { SERVICE_PREFIX: '/ums' } })

  it('stays at the root', async () => {
    expect((await stack.call('GET', '/-/metrics')).status).toBe(200)
    expect((await stack.call('GET', '/ums/-/metrics')).status).toBe(404)
  })
})

describe('EXPOSE_METRICS=false', () => {
  const stack = useStack({ env: { EXPOSE_METRICS: 'false' } })

  it('removes the route and its documentation', async () => {
    expect((await stack.call('GET', '/-/metrics')).status).toBe(404)
    const document = await stack.call('GET', '/documentation/json')
    expect(document.body.paths).not.toHaveProperty('/-/metrics')
  })
})
