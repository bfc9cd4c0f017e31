// `npm run docs:env`: writes README's configuration table (between its env-table marker comments)
// and the whole .env.example from the env schema, the one place that describes each variable.
// `npm run docs:env -- --check` writes nothing and fails naming the files that differ from it.
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ENV_SCHEMA } from '../src/config/index.js'

/** What the generator reads of a variable's schema; other keywords are validation only. */
export interface VariableSchema {
  type: string
  default?: unknown
  description?: string
  examples?: readonly unknown[]
}

export interface EnvSchema {
  required: readonly string[]
  properties: Readonly<Record<string, VariableSchema>>
}

/**
 * The .env.example sections, each starting at a variable and running to the next section's first
 * variable, in the schema's order. Variables added at the end of the schema join the last section.
 */
export const SECTIONS: ReadonlyArray<{ first: string; title: string }> = [
  { first: 'HTTP_PORT', title: 'server' },
  { first: 'AUTH_MODULE', title: 'peers (a bare service name means http://<name>; a full URL is used as it is)' },
  { first: 'RANDOM_PWD_GEN', title: 'users' },
  { first: 'USER_IMPORT_BATCH_SIZE', title: 'bulk operations and jobs' },
  { first: 'JOBS_STORE_URL', title: 'job store shared by the replicas (unset: jobs in memory, lost on restart, not shared)' },
  { first: 'USERID_HEADER_KEY', title: 'platform headers (names of the headers, not values)' },
  { first: 'SERVICE_PREFIX', title: 'routes, documentation, metrics and tracing' },
]

export const TABLE_BEGIN = '<!-- env-table:begin (generated from ENV_SCHEMA in src/config/env-schema.ts by `npm run docs:env`: edit the schema, not this table) -->'
export const TABLE_END = '<!-- env-table:end -->'

const WIDTH = 100

interface Variable {
  name: string
  required: boolean
  description: string
  /** The default as written in a .env file; undefined when there is none (or it is empty). */
  default: string | undefined
  example: string | undefined
}

/** The variables in schema order; a variable without a description is an error naming it. */
function variables(schema: EnvSchema): Variable[] {
  return Object.entries(schema.properties).map(([name, property]) => {
    if (typeof property.description !== 'string' || property.description.trim() === '') {
      throw new Error(`ENV_SCHEMA.properties.${name} has no description`)
    }
    // An empty default (an empty list) reads as "none" in both outputs.
    const fallback = property.default === undefined || property.default === '' ? undefined : String(property.default)
    const example = property.examples?.[0]
    return {
      name,
      required: schema.required.includes(name),
      description: property.description.trim(),
      default: fallback,
      example: example === undefined ? undefined : String(example),
    }
  })
}

/** A table cell: a pipe would end the cell even inside a code span. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|')
}

/** README's configuration table, markers included. */
export function renderTable(schema: EnvSchema): string {
  const rows = variables(schema).map((variable) =>
    `| \`${variable.name}\` | ${variable.required ? 'yes' : 'no'} | ${variable.default === undefined ? '—' : cell(`\`${variable.default}\``)} | ${cell(variable.description)} |`,
  )
  return [TABLE_BEGIN, '| variable | required | default | meaning |', '|---|---|---|---|', ...rows, TABLE_END].join('\n')
}

/** `readme` with the text between the markers replaced by the table. */
export function replaceTable(readme: string, table: string): string {
  const begin = readme.indexOf('<!-- env-table:begin')
  const end = readme.indexOf(TABLE_END)
  if (begin === -1 || end < begin) throw new Error(`README.md has no configuration table between "<!-- env-table:begin …-->" and "${TABLE_END}"`)
  return `${readme.slice(0, begin)}${table}${readme.slice(end + TABLE_END.length)}`
}

/** `# ` comment lines of at most WIDTH characters; a code span is never split. */
function comment(text: string): string[] {
  const words = text.match(/(?:`[^`]*`|\S)+/g) ?? []
  const lines: string[] = []
  let line = '#'
  for (const word of words) {
    if (line !== '#' && line.length + 1 + word.length > WIDTH) {
      lines.push(line)
      line = '#'
    }
    line += ` ${word}`
  }
  lines.push(line)
  return lines
}

/** A variable's block: its description, then the line to set it. */
function block(variable: Variable): string[] {
  if (variable.required) return [...comment(variable.description), `${variable.name}=${variable.example ?? ''}`]
  if (variable.default !== undefined) return [...comment(variable.description), `# ${variable.name}=${variable.default}`]
  if (variable.example !== undefined) return [...comment(`${variable.description}; for example:`), `# ${variable.name}=${variable.example}`]
  return [...comment(variable.description), `# ${variable.name}=`]
}

/** The whole .env.example: the required variables first, then each section's optional ones. */
export function renderEnvExample(schema: EnvSchema): string {
  const all = variables(schema)
  const names = all.map((variable) => variable.name)
  for (const section of SECTIONS) {
    if (!names.includes(section.first)) throw new Error(`the .env.example section "${section.title}" starts at ${section.first}, which ENV_SCHEMA does not declare`)
  }
  if (names[0] !== SECTIONS[0]!.first) throw new Error(`ENV_SCHEMA's first variable must be ${SECTIONS[0]!.first}, where the first .env.example section starts`)

  const out = [
    '# Copy to .env (read at start by `npm start`) and adapt. Every variable ums reads is listed here,',
    '# with what it means. `NAME=value` lines set the required variables (to example values); a',
    '# commented `# NAME=value` line shows the default, or an example after "for example:".',
    '# Generated from ENV_SCHEMA in src/config/env-schema.ts by `npm run docs:env`: edit the schema, not this file.',
    '',
    '# --- required ---',
  ]
  for (const variable of all.filter((candidate) => candidate.required)) out.push('', ...block(variable))
  SECTIONS.forEach((section, index) => {
    const from = names.indexOf(section.first)
    const next = SECTIONS[index + 1]
    const to = next === undefined ? names.length : names.indexOf(next.first)
    const optional = all.slice(from, to).filter((variable) => !variable.required)
    if (optional.length === 0) return
    out.push('', '', `# --- ${section.title} ---`)
    for (const variable of optional) out.push('', ...block(variable))
  })
  return `${out.join('\n')}\n`
}

export interface Outputs {
  readme: string
  envExample: string
}

/** Both generated files, README's text outside the markers kept as it is. */
export function render(schema: EnvSchema, readme: string): Outputs {
  return { readme: replaceTable(readme, renderTable(schema)), envExample: renderEnvExample(schema) }
}

const ROOT = new URL('../', import.meta.url)
export const FILES = { readme: new URL('README.md', ROOT), envExample: new URL('.env.example', ROOT) } as const

/** The generated outputs for this repository's schema and README. */
export async function generate(): Promise<Outputs> {
  return render(ENV_SCHEMA, await readFile(FILES.readme, 'utf8'))
}

async function main(check: boolean): Promise<void> {
  const outputs = await generate()
  const stale: string[] = []
  for (const key of Object.keys(FILES) as Array<keyof Outputs>) {
    const current = await readFile(FILES[key], 'utf8').catch(() => undefined)
    if (current === outputs[key]) continue
    stale.push(fileURLToPath(FILES[key]))
    if (!check) await writeFile(FILES[key], outputs[key])
  }
  if (check && stale.length > 0) {
    console.error(`out of date with ENV_SCHEMA (run npm run docs:env): ${stale.join(', ')}`)
    process.exitCode = 1
  } else if (!check) {
    process.stdout.write(stale.length > 0 ? `wrote ${stale.join(', ')}\n` : 'README.md and .env.example are up to date\n')
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.includes('--check')).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error))
    process.exitCode = 1
  })
}
