// Swagger UI in a real browser: headless Chromium (Debian's package, driven by playwright-core)
// loads /documentation/ from a sandbox stack without a console error, shows every route of
// README's endpoint table, and "Try it out" on GET /users/count displays the CRUD's count.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { request } from 'undici'
import { startStack, type Stack } from '../../src/sandbox/stack.js'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'

/** Installed by `apt-get install chromium` (.ci/run does it when missing); never downloaded. */
const CHROMIUM = '/usr/bin/chromium'

/**
 * The machine has no internet: without the background-networking flags Chromium keeps trying to
 * reach its own services and the refused connections end up in the console.
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

const BROWSER_TIMEOUT_MS = 60_000

/**
 * The `METHOD /path` routes of README's Endpoints table, paths written as Swagger UI shows them
 * (`/users/{id}`). A cell may list several paths after one method. The documentation routes are
 * left out: they serve the UI and are not operations of the document.
 */
async function readmeRoutes(): Promise<string[]> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  const start = readme.indexOf('\n## Endpoints')
  const section = readme.slice(start, readme.indexOf('\n### ', start))
  const routes: string[] = []
  for (const [, cell] of section.matchAll(/^\| ([^|]*) \|/gm)) {
    let method: string | undefined
    for (const [, span] of cell!.matchAll(/`([^`]+)`/g)) {
      const [, spanMethod, path] = /^(?:(GET|POST|PATCH|PUT|DELETE) )?(\/\S*)$/.exec(span!) ?? []
      if (path === undefined) continue
      method = spanMethod ?? method
      if (!path.startsWith('/documentation')) routes.push(`${method} ${path.replace(/:(\w+)/g, '{$1}')}`)
    }
  }
  return routes
}

describe('Swagger UI in Chromium', () => {
  let stack: Stack
  let userDataDir: string
  let browser: BrowserContext
  let page: Page
  const consoleErrors: string[] = []
  const requested: string[] = []

  beforeAll(async () => {
    stack = await startStack()
    stack.crud.seed(USERS_ENDPOINT, [
      { userGroup: 'customer', name: 'Anna', surname: 'Bianchi' },
      { userGroup: 'customer', name: 'Carlo', surname: 'Verdi' },
      { userGroup: 'customer', name: 'Dario', surname: 'Neri' },
    ])
    // A fresh profile per run: nothing cached or remembered from an earlier one.
    userDataDir = await mkdtemp(join(tmpdir(), 'ums-chromium-'))
    browser = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
    page = browser.pages()[0] ?? (await browser.newPage())
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text())
    })
    page.on('pageerror', (error) => consoleErrors.push(error.message))
    page.on('requestfailed', (failed) => consoleErrors.push(`${failed.url()}: ${failed.failure()?.errorText}`))
    page.on('request', (sent) => requested.push(sent.url()))
    const response = await page.goto(`${stack.url}/documentation/`)
    // A missing page fails here at once rather than after the wait for its operations.
    expect(response?.status()).toBe(200)
    await page.waitForSelector('.opblock', { timeout: BROWSER_TIMEOUT_MS })
  }, BROWSER_TIMEOUT_MS)

  afterAll(async () => {
    await browser?.close()
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true })
    await stack?.close()
  })

  it('loads the page with no console error, from the stack only', async () => {
    expect(await page.title()).toBe('Swagger UI')
    expect(await page.textContent('.info .title')).toContain('ums')
    expect(consoleErrors).toEqual([])
    expect(requested).toContain(`${stack.url}/documentation/json`)
    expect(requested.filter((url) => !url.startsWith(`${stack.url}/`))).toEqual([])
  })

  it("shows every route of README's endpoint table", async () => {
    const shown = await page.$$eval('.opblock', (blocks) =>
      blocks.map((block) => `${block.querySelector('.opblock-summary-method')?.textContent} ${block.querySelector('.opblock-summary-path')?.getAttribute('data-path')}`),
    )
    const documented = await readmeRoutes()
    expect(documented.length).toBeGreaterThanOrEqual(20)
    expect(documented.filter((route) => !shown.includes(route))).toEqual([])
  })

  it('"Try it out" on GET /users/count displays the count of the CRUD', async () => {
    const crudCount = await (await request(`${stack.crud.url}${USERS_ENDPOINT}/count`)).body.json()
    expect(crudCount).toBe(3)
    const operation = page.locator('#operations-User_Management-countUsers')
    await operation.locator('.opblock-summary-control').click()
    await operation.locator('button.try-out__btn').click()
    await operation.locator('button.execute').click()
    const response = operation.locator('.live-responses-table .response')
    await response.waitFor({ timeout: BROWSER_TIMEOUT_MS })
    expect((await response.locator('.response-col_status').textContent())?.trim()).toBe('200')
    expect((await response.locator('.response-col_description pre').first().textContent())?.trim()).toBe(String(crudCount))
    expect(await operation.locator('.request-url pre').textContent()).toBe(`${stack.url}/users/count`)
    expect(consoleErrors).toEqual([])
  }, BROWSER_TIMEOUT_MS)
})
