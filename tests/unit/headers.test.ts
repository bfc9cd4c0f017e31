import { describe, expect, it } from 'vitest'
import { pickHeaders, platformForwardedHeaders, withoutAclHeaders } from '../../src/clients/headers.js'

const KEYS = { userId: 'miauserid', userProperties: 'miauserproperties', groups: 'miausergroups', clientType: 'client-type', backoffice: 'isbackoffice' }

describe('platformForwardedHeaders', () => {
  it('reproduces the observed example of the platform conventions, with a case-insensitive list', () => {
    const incoming = {
      miauserid: 'u1',
      miausergroups: 'admin,ops',
      miauserproperties: '{"a":1}',
      'client-type': 'backoffice',
      isbackoffice: 'false',
      'x-request-id': 'abc-123',
      'x-forwarded-for': '1.2.3.4',
      cookie: 'sid=1',
      authorization: 'Bearer x',
      other: 'no',
    }
    expect(platformForwardedHeaders(incoming, KEYS, ['cookie'])).toEqual({
      miauserid: 'u1',
      miauserproperties: '{"a":1}',
      miausergroups: 'admin,ops',
      'client-type': 'backoffice',
      isbackoffice: '1',
      'x-request-id': 'abc-123',
      'x-forwarded-for': '1.2.3.4',
      cookie: 'sid=1',
    })
    // Our list is lower-cased by the config, so `Authorization` written in any case is forwarded.
    expect(platformForwardedHeaders(incoming, KEYS, ['cookie', 'authorization'])).toMatchObject({ authorization: 'Bearer x' })
  })

  it('drops invalid user properties and empty groups, and omits absent headers', () => {
    const headers = platformForwardedHeaders({ miauserproperties: 'not json', miausergroups: ',,', isbackoffice: '' }, KEYS, [])
    expect(headers).toEqual({})
  })

  it('uses the configured header names', () => {
    const keys = { ...KEYS, userId: 'x-user', clientType: 'x-client' }
    expect(platformForwardedHeaders({ 'x-user': 'u2', 'x-client': 'web', miauserid: 'ignored' }, keys, [])).toEqual({
      'x-user': 'u2',
      'x-client': 'web',
    })
  })

  it('never forwards connection or body headers even when listed', () => {
    expect(pickHeaders({ host: 'ums', 'content-length': '3', 'transfer-encoding': 'chunked', cookie: 'a=1' }, ['host', 'content-length', 'transfer-encoding', 'cookie'])).toEqual({ cookie: 'a=1' })
  })

  it('strips ACL headers for the auth service', () => {
    expect(withoutAclHeaders({ acl_rows: '{}', acl_read_columns: 'a', cookie: 'x' })).toEqual({ cookie: 'x' })
  })
})

describe('W3C trace context', () => {
  it('is forwarded as received, with or without the other headers', () => {
    const incoming = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'vendor=1', baggage: 'k=v' }
    expect(platformForwardedHeaders(incoming, KEYS, [])).toEqual({ traceparent: incoming.traceparent, tracestate: 'vendor=1' })
  })
})
