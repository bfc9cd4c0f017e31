// README's "Command line and SDK" section tested like code: the SDK is built as `npm run build`
// lays it out (sdk/dist/, one file per source), into a directory laid out like the checkout; the SDK
// example runs there with node, and the CLI block with bash and that build's `ums` on the PATH, both
// against a sandbox stack, and what they did is checked in the peers.
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { baseEnv } from '../helpers/processes.js'
import { useStack } from '../helpers/stack.js'
import { ROOT, umsExecutable } from './run.js'

const stack = useStack({ env: { AUTH0_JOB_POLLING_INTERVAL: '50', AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: '40' } })

/** The fenced blocks of README's "Command line and SDK" section, with their language. */
async function sectionBlocks(): Promise<Array<{ lang: string; code: string }>> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf('\n## Command line and SDK\n')
  expect(start, 'README has a "Command line and SDK" section').toBeGreaterThanOrEqual(0)
  const end = readme.indexOf('\n## ', start + 1)
  const section = readme.slice(start, end === -1 ? undefined : end)
  return [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((match) => ({ lang: match[1]!, code: match[2]! }))
}

let checkout: string
beforeAll(async () => {
  checkout = await mkdtemp(join(tmpdir(), 'ums-readme-'))
  // What `npm run build` writes to sdk/dist/, file for file, here; the example imports
  // ./sdk/dist/index.js. Transpiled with esbuild, which takes a tenth of tsc's CPU: the types are
  // checked by the typecheck of `npm test` already.
  const sources = (await readdir(join(ROOT, 'sdk/src'), { recursive: true })).filter((file) => file.endsWith('.ts')).map((file) => join(ROOT, 'sdk/src', file))
  await build({ entryPoints: sources, outdir: join(checkout, 'sdk/dist'), outbase: join(ROOT, 'sdk/src'), platform: 'node', format: 'esm', target: 'node20', logLevel: 'silent' })
  await symlink(join(ROOT, 'node_modules'), join(checkout, 'node_modules'))
  await mkdir(join(checkout, 'bin'))
  await umsExecutable(join(checkout, 'bin'), join(checkout, 'sdk/dist/cli/main.js'))
}, 60_000)
afterAll(async () => {
  await rm(checkout, { recursive: true, force: true })
})

function spawnCollect(command: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { cwd: checkout, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), 50_000)
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    }),
  )
}

describe("README's Command line and SDK section", { timeout: 60_000 }, () => {
  it('the SDK example imports a CSV, activates the inserted users and waits with progress', async () => {
    const example = (await sectionBlocks()).find((block) => block.lang === 'js' && block.code.includes('import-and-activate.mjs'))
    expect(example, 'the SDK example block').toBeDefined()
    expect(example!.code.trim().split('\n').length).toBeLessThanOrEqual(22)
    await writeFile(join(checkout, 'import-and-activate.mjs'), example!.code)
    await writeFile(
      join(checkout, 'users.csv'),
      'userGroup;name;surname;email;username\ncustomer;Elena;Galli;elena@example.com;elena\ncustomer;Franco;Riva;franco@example.com;franco\ncustomer;Gina;;gina@example.com;gina\n',
    )

    const result = await spawnCollect(process.execPath, ['import-and-activate.mjs', 'users.csv'], baseEnv({ UMS_URL: stack.current.url }))

    expect(result.code, result.stderr).toBe(0)
    const lines = result.stdout.trim().split('\n')
    expect(lines.slice(0, 2)).toEqual(['inserted 2, updated 0, invalid 1', '  row 3: Skipping record: invalid json schema, missing required field surname'])
    expect(lines.filter((line) => /^activating \d+\/\d+$/.test(line)).length).toBeGreaterThanOrEqual(1)
    expect(JSON.parse(/^completed: (.*)$/.exec(lines.at(-1)!)![1]!)).toEqual({ failed: 0, updated: 0, inserted: 2, total: 2, skipped: 0 })
    const users = stack.current.crud.documents(USERS_ENDPOINT)
    expect(users.map((user) => [user.name, typeof user.authUserId]).sort()).toEqual([
      ['Elena', 'string'],
      ['Franco', 'string'],
    ])
  })

  it('the SDK example prints the code of a refusal and exits 1', async () => {
    const example = (await sectionBlocks()).find((block) => block.lang === 'js' && block.code.includes('import-and-activate.mjs'))
    await writeFile(join(checkout, 'import-and-activate.mjs'), example!.code)
    await writeFile(join(checkout, 'no-group.csv'), 'name;surname\nElena;Galli\n')
    const result = await spawnCollect(process.execPath, ['import-and-activate.mjs', 'no-group.csv'], baseEnv({ UMS_URL: stack.current.url }))
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^UMS_\w+: .*userGroup/)
  })

  it('the CLI block runs with bash, and does what it says', async () => {
    const blocks = (await sectionBlocks()).filter((block) => block.lang === 'sh')
    expect(blocks).toHaveLength(1)
    // The block's temporary files, removed however it ends.
    const script = `trap 'rm -f /tmp/cli-users-\${RUN:-none}.csv /tmp/cli-ids-\${RUN:-none}.txt /tmp/cli-auth-ids-\${RUN:-none}.txt' EXIT\n${blocks[0]!.code}`
    await writeFile(join(checkout, 'walkthrough-cli.sh'), script)
    const env = baseEnv({ UMS_URL: stack.current.url })
    env.PATH = `${join(checkout, 'bin')}${delimiter}${env.PATH}`

    const result = await spawnCollect('bash', ['-euo', 'pipefail', 'walkthrough-cli.sh'], env)

    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0)
    // Anna was created, patched, moved to TRASH and deleted: what is left are the imported users,
    // activated, each sent its change-password email by the job.
    const users = stack.current.crud.documents(USERS_ENDPOINT)
    expect(users.map((user) => user.name).sort()).toEqual(['Elena', 'Franco'])
    const authIds = users.map((user) => user.authUserId as string)
    expect(authIds.every((id) => typeof id === 'string')).toBe(true)
    const emailed = stack.current.auth0.outbox.filter((entry) => entry.kind === 'change-password').map((entry) => entry.email)
    for (const user of users) expect(emailed).toContain(user.email)
    // The job results on stdout: the activation, the emails and the dry run, in that order.
    expect(result.stdout).toMatch(/"inserted": 2[\s\S]*"completed": 2[\s\S]*"dryRun": true/)
    expect(result.stdout).toContain('"customer-premium"')
    // The waits' progress lines went to stderr.
    expect(result.stderr).toMatch(/^bulk-activation: \d+\/2 /m)
    expect(result.stderr).toMatch(/^change-password: \d+\/2 /m)
  })
})
