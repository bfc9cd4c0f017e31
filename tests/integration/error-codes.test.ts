// Error bodies over HTTP: every one carries a code of the catalogue, content types the routes do
// not read are refused naming the one they do, and README's Errors section lists the catalogue.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ERROR_CODES } from '../../src/errors/codes.js'
import { useStack } from '../helpers/stack.js'

const MARIO = { userGroup: 'customer', name: 'Mario', surname: 'Rossi', email: 'mario.rossi@example.com', username: 'mario.rossi' }

describe('content types', () => {
  const stack = useStack()

  it('refuses a JSON body sent as text/plain with 415 naming application/json, writing nothing', async () => {
    const answer = await stack.call('POST', '/users/', { raw: JSON.stringify(MARIO), headers: { 'content-type': 'text/plain' } })
    expect(answer.status).toBe(415)
    expect(answer.body).toEqual({
      statusCode: 415,
      error: 'Unsupported Media Type',
      message: 'Unsupported Media Type: text/plain; send the body as application/json',
      code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
    })
    expect(stack.current.crud.requests).toHaveLength(0)
  })

  it('names application/json for a body without a content type, and for any other type', async () => {
    const missing = await stack.call('PATCH', '/users/0123456789abcdef01234567', { raw: '{"$set":{"name":"X"}}' })
    expect(missing.status).toBe(415)
    expect(missing.body.message).toBe('Unsupported Media Type: no content-type; send the body as application/json')
    const xml = await stack.call('POST', '/oauth/token', { raw: '<login/>', headers: { 'content-type': 'application/xml; charset=utf-8' } })
    expect(xml.status).toBe(415)
    expect(xml.body).toMatchObject({ message: 'Unsupported Media Type: application/xml; send the body as application/json', code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' })
  })

  it('names multipart/form-data on the import, whether Fastify or the route refuses the type', async () => {
    const text = await stack.call('PATCH', '/users/import', { raw: 'userGroup\ncustomer\n', headers: { 'content-type': 'text/plain' } })
    expect(text.status).toBe(415)
    expect(text.body).toEqual({
      statusCode: 415,
      error: 'Unsupported Media Type',
      message: 'Unsupported Media Type: text/plain; send the body as multipart/form-data',
      code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
    })
    const json = await stack.call('PATCH', '/users/import', { json: { file: 'userGroup\ncustomer\n' } })
    expect(json.status).toBe(415)
    expect(json.body).toMatchObject({ message: 'The request must be multipart/form-data with a file part', code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' })
  })

  it('keeps Fastify codes for malformed and empty JSON bodies', async () => {
    const malformed = await stack.call('POST', '/users/', { raw: '{"userGroup":', headers: { 'content-type': 'application/json' } })
    expect(malformed.body).toMatchObject({ statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' })
    const empty = await stack.call('POST', '/users/', { raw: '', headers: { 'content-type': 'application/json' } })
    expect(empty.body).toMatchObject({ statusCode: 400, code: 'FST_ERR_CTP_EMPTY_JSON_BODY' })
  })
})

describe('the catalogue', () => {
  const stack = useStack({ unreachable: ['crud'] })

  it('gives a failing peer UMS_UPSTREAM_FAILED', async () => {
    const answer = await stack.call('GET', '/users/count')
    expect(answer.body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'Error while retrieving user: CRUD GET /users/count failed: connection refused',
      code: 'UMS_UPSTREAM_FAILED',
    })
  })

  it('pairs every code with the status it comes with', () => {
    for (const [code, entry] of Object.entries(ERROR_CODES)) {
      expect(code, code).toMatch(/^(UMS|FST)_[A-Z_]+$/)
      expect(entry.status, code).toBeGreaterThanOrEqual(400)
      expect(entry.meaning, code).not.toBe('')
    }
  })

  it('is listed in README, Errors section, each code with its status', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    const start = readme.indexOf('### Errors')
    expect(start).toBeGreaterThan(-1)
    const section = readme.slice(start, readme.indexOf('\n## ', start))
    const rows = new Map([...section.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((match) => [match[1]!, Number(match[2])]))
    expect([...rows.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort())
    for (const [code, entry] of Object.entries(ERROR_CODES)) expect(rows.get(code), code).toBe(entry.status)
  })
})
