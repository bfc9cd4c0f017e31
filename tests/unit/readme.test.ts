// What README promises a new reader before anything else: the test command's prerequisites next to
// it, the same ones the command checks; and the documentation states its own bars, citing no
// document that is not in the repository.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')

describe('README', () => {
  it('states next to `npm test` what it needs: each server and program the command checks for', () => {
    const readme = read('README.md')
    const top = readme.slice(0, readme.indexOf('\n## '))
    expect(top).toContain('npm ci && npm test')
    const script = read('scripts/test-prerequisites.sh')
    const ports = [...script.matchAll(/^if ! listening (\d+); then$/gm)].map((match) => match[1])
    expect(ports).toEqual(['5432', '6379'])
    for (const port of ports) expect(top).toContain(`127.0.0.1:${port}`)
    expect(top).toContain('database `test`')
    // The programs it installs when missing, each where the script looks for it.
    const programs = [...script.matchAll(/^[A-Z_]+=(\/usr\/bin\/\S+)$/gm)].map((match) => match[1])
    expect(programs).toContain('/usr/bin/chromium')
    for (const program of programs) expect(top).toContain(`\`${program}\``)
  })

  it.each(['README.md', 'bench/README.md'])('%s cites no section of a document outside the repository', (path) => {
    expect(read(path)).not.toMatch(/SPEC|§/)
  })
})
