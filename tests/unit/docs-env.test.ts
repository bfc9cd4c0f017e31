// README's configuration table and .env.example against the env schema they are generated from
// (scripts/docs-env.ts): any drift fails here, and the generator takes any property.
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ENV_SCHEMA } from '../../src/config/index.js'
import { FILES, generate, render, renderEnvExample, renderTable, SECTIONS, TABLE_BEGIN, TABLE_END, type EnvSchema } from '../../scripts/docs-env.js'

const SCRIPT = fileURLToPath(new URL('../../scripts/docs-env.ts', import.meta.url))
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

/** ENV_SCHEMA plus the given properties at its end, as a new variable would be added. */
function withProperties(properties: EnvSchema['properties']): EnvSchema {
  return { required: ENV_SCHEMA.required, properties: { ...ENV_SCHEMA.properties, ...properties } }
}

describe('README and .env.example', () => {
  it('are what `npm run docs:env` generates from ENV_SCHEMA', async () => {
    const generated = await generate()
    expect(await readFile(FILES.readme, 'utf8')).toBe(generated.readme)
    expect(await readFile(FILES.envExample, 'utf8')).toBe(generated.envExample)
  })

  it('list every variable of the schema once, with its default', async () => {
    const readme = await readFile(FILES.readme, 'utf8')
    const table = readme.slice(readme.indexOf(TABLE_BEGIN), readme.indexOf(TABLE_END))
    const rows = [...table.matchAll(/^\| `([A-Z0-9_]+)` \| (yes|no) \| (.+?) \|/gm)]
    expect(rows.map((row) => row[1])).toEqual(Object.keys(ENV_SCHEMA.properties))
    expect(rows.find((row) => row[1] === 'HTTP_PORT')?.slice(2)).toEqual(['no', '`3000`'])
    expect(rows.find((row) => row[1] === 'AUTH_SERVICE')?.slice(2)).toEqual(['yes', '—'])
    const example = await readFile(FILES.envExample, 'utf8')
    for (const name of Object.keys(ENV_SCHEMA.properties)) expect(example.match(new RegExp(`^(# )?${name}=`, 'gm')), name).toHaveLength(1)
    expect(example).toMatch(/^AUTH_SERVICE=auth0-client$/m)
    expect(example).toMatch(/^# SERVICE_PREFIX=\/$/m)
  })

  it('pass `npm run docs:env -- --check`', async () => {
    const child = spawn(process.execPath, ['--import', TSX, SCRIPT, '--check'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(output).toBe('')
    expect(code).toBe(0)
  })
})

describe('the generator', () => {
  it('notices a changed description', async () => {
    const readme = await readFile(FILES.readme, 'utf8')
    const changed = withProperties({ HTTP_PORT: { ...ENV_SCHEMA.properties.HTTP_PORT, description: 'the port ums listens on' } })
    const outputs = render(changed, readme)
    expect(outputs.readme).not.toBe(readme)
    expect(outputs.readme).toContain('| `HTTP_PORT` | no | `3000` | the port ums listens on |')
    expect(outputs.envExample).toContain('# the port ums listens on\n# HTTP_PORT=3000\n')
  })

  it('takes variables added at the end of the schema into the table and the last section', () => {
    const schema = withProperties({
      FUTURE_NAME: { type: 'string', default: 'ums', description: 'a name' },
      FUTURE_ENDPOINT: { type: 'string', examples: ['http://collector:4318'], description: 'where it goes' },
      FUTURE_TOKEN: { type: 'string', description: 'a secret' },
    })
    expect(renderTable(schema).split('\n').slice(-4, -1)).toEqual([
      '| `FUTURE_NAME` | no | `ums` | a name |',
      '| `FUTURE_ENDPOINT` | no | — | where it goes |',
      '| `FUTURE_TOKEN` | no | — | a secret |',
    ])
    const example = renderEnvExample(schema)
    expect(example.indexOf('# FUTURE_NAME=')).toBeGreaterThan(example.indexOf(`# --- ${SECTIONS.at(-1)!.title} ---`))
    expect(example.endsWith('\n\n# a name\n# FUTURE_NAME=ums\n\n# where it goes; for example:\n# FUTURE_ENDPOINT=http://collector:4318\n\n# a secret\n# FUTURE_TOKEN=\n')).toBe(true)
  })

  it('puts required variables first in .env.example, set to their example', () => {
    const schema: EnvSchema = { required: [...ENV_SCHEMA.required, 'FUTURE_NAME'], properties: { ...ENV_SCHEMA.properties, FUTURE_NAME: { type: 'string', examples: ['ums'], description: 'a name' } } }
    const example = renderEnvExample(schema)
    expect(example.indexOf('\nFUTURE_NAME=ums\n')).toBeGreaterThan(-1)
    expect(example.indexOf('\nFUTURE_NAME=ums\n')).toBeLessThan(example.indexOf('# --- server ---'))
    expect(renderTable(schema)).toContain('| `FUTURE_NAME` | yes | — | a name |')
  })

  it('escapes pipes in table cells and keeps code spans whole when wrapping comments', () => {
    const long = `${'word '.repeat(17)}\`N seconds|minutes|hours\` end`
    const schema = withProperties({ POLL: { type: 'string', default: 'a|b', description: long } })
    expect(renderTable(schema)).toContain('| `POLL` | no | `a\\|b` |')
    expect(renderEnvExample(schema)).toContain('\n# `N seconds|minutes|hours` end\n# POLL=a|b\n')
  })

  it('refuses a variable without a description, naming it', () => {
    const schema = withProperties({ FUTURE_EXPORTER: { type: 'string', default: 'otlp' } })
    expect(() => renderTable(schema)).toThrow('ENV_SCHEMA.properties.FUTURE_EXPORTER has no description')
  })

  it('refuses a README without the table markers', () => {
    expect(() => render(ENV_SCHEMA, '# ums\n')).toThrow(/README.md has no configuration table/)
  })
})
