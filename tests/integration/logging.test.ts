import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { LogCapture, useStack } from '../helpers/stack.js'

const logs = new LogCapture()
const PASSWORD = 'Very-Secret-Pass9'

describe('logs never carry secrets', () => {
  const stack = useStack({ env: { LOG_LEVEL: 'trace' }, logStream: logs })

  it('redacts passwords, tokens, cookies and authorization at every level', async () => {
    const authUser = stack.current.auth0.seedUser({ email: 'log@example.com', username: 'logger', password: PASSWORD })
    stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', authUserId: authUser.user_id, name: 'L', surname: 'G' }])
    const login = await stack.call('POST', '/oauth/token', { json: { username: 'logger', password: PASSWORD } })
    const website = await stack.call('POST', '/oauth/token', { json: { username: 'logger', password: PASSWORD }, headers: { 'client-type': 'website' } })
    const cookie = String(website.headers['set-cookie']).split(';')[0]!
    await stack.call('GET', '/userinfo', { headers: { authorization: `Bearer ${login.body.accessToken}` } })
    await stack.call('GET', '/userinfo', { headers: { cookie, 'client-type': 'website' } })
    await stack.call('POST', '/refreshtoken', { json: { refreshToken: login.body.refreshToken }, headers: { authorization: `Bearer ${login.body.accessToken}` } })
    stack.current.auth0.injectFault({ path: '/oauth/token', status: 500, body: { message: 'refused', password: PASSWORD } })
    await stack.call('POST', '/oauth/token', { json: { username: 'logger', password: PASSWORD }, headers: { cookie } })

    // Direct checks of the redaction paths, whatever a future log line looks like.
    stack.current.app.log.info({ password: PASSWORD, headers: { cookie, authorization: `Bearer ${login.body.accessToken}` }, incoming: { headers: { 'set-cookie': cookie } }, body: { refreshToken: login.body.refreshToken } }, 'probe')

    const all = logs.lines.join('\n')
    expect(logs.lines.length).toBeGreaterThan(5)
    for (const secret of [PASSWORD, login.body.accessToken, login.body.refreshToken, cookie.split('=')[1]]) {
      expect(all).not.toContain(secret)
    }
    const probe = logs.records.find((record) => record.msg === 'probe')
    expect(probe).toMatchObject({ password: '[REDACTED]', headers: { cookie: '[REDACTED]', authorization: '[REDACTED]' }, incoming: { headers: { 'set-cookie': '[REDACTED]' } }, body: { refreshToken: '[REDACTED]' } })
  })

  it('logs a 5xx with its error and reqId', async () => {
    logs.lines.length = 0
    stack.current.auth0.injectFault({ path: '/oauth/token', status: 500 })
    await stack.call('POST', '/oauth/token', { json: { username: 'a', password: 'b' }, headers: { 'x-request-id': 'fail-1' } })
    const failure = logs.records.find((record) => record.msg === 'request failed')
    expect(failure).toMatchObject({ level: 50, reqId: 'fail-1', err: { type: 'HttpError', message: 'Error while logging in user: AUTH POST /oauth/token responded with a 500 status code' } })
  })
})
