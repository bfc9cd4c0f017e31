// Job store URLs as operators get them wrong: a URL the driver cannot use stops the start with one
// line naming the variable; a database, user or database number the server refuses is an
// unreachable store (ums starts, /-/ready answers 503 naming the reason); and the reason keeps the
// user name the server refused while every secret of the URL stays masked.
import { afterEach, describe, expect, it } from 'vitest'
import { startStack, type Stack } from '../../src/sandbox/stack.js'
import { storeUnreachable } from '../../src/jobs/stores/errors.js'
import { call } from '../helpers/stack.js'
import { isolatedRedis } from '../helpers/job-stores.js'
import { consecutiveFreePorts } from '../helpers/processes.js'
import { spawnUms } from '../helpers/ums-process.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const REQUIRED = { AUTH_SERVICE: 'http://127.0.0.1:9', AUTH_CONNECTION: 'c', USERS_CRUD_ENDPOINT: '/users', UMS_CONFIG_CRUD_ENDPOINT: '/ums-config' }

async function stackWith(env: Record<string, string>): Promise<Stack> {
  const stack = await startStack({ env })
  cleanups.push(() => stack.close())
  return stack
}

describe('a job store URL ums cannot use', () => {
  it.each([
    ['redis://:s3cret@127.0.0.1:6379/notanumber', 'invalid configuration: JOBS_STORE_URL must name the Redis database by its number (redis://host:6379/0), got "notanumber"'],
    ['mongodb://ums:s3cret@127.0.0.1/ums?notAnOption=1', 'invalid configuration: JOBS_STORE_URL is refused by the MongoDB driver: connection string contains unsupported options, at position: 1'],
  ])('stops the process at start with one line naming JOBS_STORE_URL: %s', { timeout: 30_000 }, async (url, line) => {
    const ums = spawnUms('ums', { ...REQUIRED, LOG_LEVEL: 'warn', JOBS_STORE_URL: url }, await consecutiveFreePorts(1))
    cleanups.push(async () => void ums.child.kill('SIGKILL'))
    await ums.exited
    expect(ums.child.exitCode).toBe(1)
    expect(ums.output.join('')).toBe(`${line}\n`)
  })
})

describe('a job store the server refuses', () => {
  it('a Redis database number beyond the server`s: not ready, naming the database, and the job routes answer 503', async () => {
    const store = await isolatedRedis()
    cleanups.push(() => store.cleanup())
    const stack = await stackWith({ JOBS_STORE_URL: 'redis://127.0.0.1:6379/99', JOBS_COLLECTION_NAME: store.name })
    const ready = await call(stack.url, 'GET', '/-/ready')
    expect(ready.status).toBe(503)
    expect(ready.body.message).toBe('Redis job store unreachable at 127.0.0.1:6379: database 99 refused: ERR DB index is out of range')
    const refused = await call(stack.url, 'POST', '/jobs/change-password/bulk', { json: { authUsersIds: ['auth0|x'] } })
    expect(refused.status).toBe(503)
    expect(refused.body.code).toBe('UMS_JOB_STORE_UNAVAILABLE')
  })

  it.each([
    ['a database that does not exist', 'postgres://postgres@127.0.0.1:5432/ums_no_such_database', 'database "ums_no_such_database" does not exist'],
    ['a user that does not exist, named as the server names it', 'postgres://ums_no_such_user:s3cret@127.0.0.1:5432/test', 'role "ums_no_such_user" does not exist'],
  ])('PostgreSQL with %s: not ready, with the server`s reason', async (_case, url, reason) => {
    const stack = await stackWith({ JOBS_STORE_URL: url })
    const ready = await call(stack.url, 'GET', '/-/ready')
    expect(ready.status).toBe(503)
    expect(ready.body.message).toBe(`PostgreSQL job store unreachable at 127.0.0.1:5432: ${reason}`)
  })
})

describe('the reason of an unreachable store', () => {
  it('masks the password and secret options of the URL, never the user name', () => {
    const url = 'postgres://ums:s3cret@db:6432/ums?sslpassword=k3y&application_name=ums'
    const error = storeUnreachable('PostgreSQL', url, 5432, new Error('role "ums" refused s3cret and k3y for ums'))
    expect(error.message).toBe('PostgreSQL job store unreachable at db:6432: role "ums" refused *** and *** for ums')
    const seedList = storeUnreachable('MongoDB', 'mongodb://ums:s3cret@a:1,b:2/ums?tlsCertificateKeyFilePassword=k3y', 27017, new Error('user ums: s3cret k3y'))
    expect(seedList.message).toBe('MongoDB job store unreachable at a:1,b:2: user ums: *** ***')
  })
})
