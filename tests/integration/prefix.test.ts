// SERVICE_PREFIX over HTTP: the API under the prefix and only there, the status routes and the
// documentation at the root, the document listing the prefixed paths, and the Timer Service
// callback reaching the prefixed route.
import { describe, expect, it } from 'vitest'
import { useStack } from '../helpers/stack.js'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'

const ANNA = { userGroup: 'customer', name: 'Anna', surname: 'Bianchi', email: 'anna@example.com', username: 'anna' }

describe.each(['/ums', '/ums/'])('SERVICE_PREFIX=%s', (prefix) => {
  const stack = useStack({ env: { SERVICE_PREFIX: prefix } })

  it('serves the API under the prefix only', async () => {
    stack.current.crud.seed(USERS_ENDPOINT, [{ ...ANNA }])
    const count = await stack.call('GET', '/ums/users/count')
    expect(count.status).toBe(200)
    expect(count.body).toBe(1)
    expect((await stack.call('GET', '/ums/users/')).body).toHaveLength(1)
    expect((await stack.call('GET', '/ums/users')).status).toBe(200)
    const credentials = { json: { username: 'nobody', password: 'wrong' } }
    expect((await stack.call('POST', '/ums/oauth/token', credentials)).status).toBe(403)
    expect((await stack.call('GET', '/ums/jobs/bulk-activation/00000000-0000-4000-8000-000000000000')).body).toMatchObject({ code: 'UMS_JOB_NOT_FOUND' })
    expect((await stack.call('GET', '/users/count')).status).toBe(404)
    expect((await stack.call('GET', '/users/')).status).toBe(404)
    expect((await stack.call('POST', '/oauth/token', credentials)).body).toMatchObject({ code: 'FST_ERR_NOT_FOUND' })
  })

  it('keeps the status routes and the documentation at the root', async () => {
    for (const path of ['/-/healthz', '/-/ready', '/-/check-up', '/-/metrics', '/documentation/json', '/documentation/yaml', '/documentation/', '/documentation']) {
      expect((await stack.call('GET', path)).status, path).toBe(200)
    }
    for (const path of ['/ums/-/healthz', '/ums/-/ready', '/ums/-/check-up', '/ums/-/metrics', '/ums/documentation/json', '/ums/documentation/']) {
      expect((await stack.call('GET', path)).status, path).toBe(404)
    }
  })

  it('lists the prefixed paths in the OpenAPI document, the status routes unprefixed', async () => {
    const paths = Object.keys((await stack.call('GET', '/documentation/json')).body.paths)
    for (const path of ['/ums/oauth/token', '/ums/userinfo', '/ums/users/', '/ums/users/count', '/ums/users/{id}', '/ums/users/import', '/ums/jobs/bulk-activation', '/ums/jobs/change-password/bulk/{id}', '/-/healthz', '/-/ready', '/-/check-up']) {
      expect(paths, path).toContain(path)
    }
    expect(paths.filter((path) => !path.startsWith('/ums/') && !path.startsWith('/-/'))).toEqual([])
    expect(paths).not.toContain('/ums/users')
  })

  it('schedules the expiry callback on the prefixed route, which blocks the user when it fires', async () => {
    const created = await stack.call('POST', '/ums/users/', { json: { ...ANNA, expirationDate: '2030-01-01T00:00:00.000Z' } })
    expect(created.status).toBe(200)
    const id = created.body._id as string
    const [expiration] = stack.current.timer.expirations()
    expect(expiration?.outputMode).toMatchObject({ method: 'patch', path: `/ums/users/${id}` })
    const fired = await stack.current.timer.fireNow(expiration!.expirationId)
    expect(fired.expirationStatus.description).toBe('expired')
    expect((await stack.call('GET', `/ums/users/${id}`)).body).toMatchObject({ blocked: true })
  })
})

describe('SERVICE_PREFIX=/ (the default)', () => {
  const stack = useStack({ env: { SERVICE_PREFIX: '/' } })

  it('serves the API at the root and calls back on /users/:id', async () => {
    expect((await stack.call('GET', '/users/count')).status).toBe(200)
    const created = await stack.call('POST', '/users/', { json: { ...ANNA, expirationDate: '2030-01-01T00:00:00.000Z' } })
    expect(created.status).toBe(200)
    expect(stack.current.timer.expirations()[0]?.outputMode).toMatchObject({ path: `/users/${created.body._id}` })
  })
})
