// Every dependency that comes with an install script has a decision recorded in package.json's
// allowScripts (true: it runs, false: it is not needed), so that `npm ci` installs without
// unreviewed scripts and a new one shows here before it runs anywhere.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const json = (path: string) => JSON.parse(readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')) as Record<string, any>

describe('install scripts', () => {
  it('are each allowed or denied in package.json', () => {
    const lock = json('package-lock.json') as { packages: Record<string, { hasInstallScript?: boolean }> }
    const withScripts = Object.entries(lock.packages)
      .filter(([, entry]) => entry.hasInstallScript === true)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length))
    expect(withScripts.length).toBeGreaterThan(0)
    const decided = Object.keys((json('package.json').allowScripts ?? {}) as Record<string, boolean>).map((entry) => entry.replace(/(.)@.*$/, '$1'))
    expect(withScripts.filter((name) => !decided.includes(name))).toEqual([])
  })
})
