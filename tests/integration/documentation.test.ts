// The documentation routes over HTTP: Swagger UI at /documentation and /documentation/ with its
// assets, the legacy index.html redirect, and EXPOSE_DOCUMENTATION=false removing all of them.
// tests/browser/swagger-ui.test.ts drives the same page in Chromium. The pages need no peer: they
// are read through inject; the API's presence beside them is checked over HTTP.
import { describe, expect, it } from 'vitest'
import { useBuild } from '../helpers/build.js'
import { useStack } from '../helpers/stack.js'

/** The stylesheets and scripts a Swagger UI page loads, as written in its HTML. */
function assetsOf(html: string): string[] {
  return [...html.matchAll(/(?:href|src)="([^"]+)"/g)].map((match) => match[1]!)
}

describe('Swagger UI', () => {
  const stack = useBuild()

  it.each(['/documentation/', '/documentation'])('%s serves the Swagger UI page', async (path) => {
    const answer = await stack.call('GET', path)
    expect(answer.status).toBe(200)
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(answer.text).toContain('<div id="swagger-ui"></div>')
    expect(answer.text).toContain('swagger-ui-bundle.js')
  })

  it.each(['/documentation/', '/documentation'])('every asset of %s loads, resolved as a browser would', async (path) => {
    const page = new URL(path, 'http://ums.test')
    const assets = assetsOf((await stack.call('GET', path)).text)
    expect(assets.length).toBeGreaterThanOrEqual(6)
    for (const asset of assets) {
      const url = new URL(asset, page)
      const answer = await stack.call('GET', url.pathname)
      expect(answer.status, url.pathname).toBe(200)
    }
  })

  it('points the page at /documentation/json', async () => {
    const answer = await stack.call('GET', '/documentation/static/swagger-initializer.js')
    expect(answer.status).toBe(200)
    expect(answer.text).toContain("resolveUrl('./json')")
  })

  it('redirects /documentation/static/index.html to /documentation/ with a 302', async () => {
    const answer = await stack.call('GET', '/documentation/static/index.html')
    expect(answer.status).toBe(302)
    expect(answer.headers.location).toBe('/documentation/')
  })

  it('serves the document as JSON and YAML, and keeps the UI routes out of it', async () => {
    const json = await stack.call('GET', '/documentation/json')
    expect(json.status).toBe(200)
    expect(json.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(Object.keys(json.body.paths).filter((path) => path.startsWith('/documentation'))).toEqual([])
    const yaml = await stack.call('GET', '/documentation/yaml')
    expect(yaml.status).toBe(200)
    expect(yaml.headers['content-type']).toContain('application/x-yaml')
  })
})

describe('EXPOSE_DOCUMENTATION=false', () => {
  const stack = useStack({ env: { EXPOSE_DOCUMENTATION: 'false' } })

  it.each([
    '/documentation/json',
    '/documentation/yaml',
    '/documentation',
    '/documentation/',
    '/documentation/static/index.html',
    '/documentation/static/swagger-ui-bundle.js',
  ])('%s answers 404', async (path) => {
    const answer = await stack.call('GET', path)
    expect(answer.status).toBe(404)
    expect(answer.body).toMatchObject({ code: 'FST_ERR_NOT_FOUND' })
  })

  it('leaves the API and the status routes in place', async () => {
    expect((await stack.call('GET', '/users/count')).status).toBe(200)
    expect((await stack.call('GET', '/-/healthz')).status).toBe(200)
  })
})
