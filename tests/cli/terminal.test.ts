// `ums` in a real terminal: tmux runs it in a pane (a tmux server of this test's own, on its own
// socket) and capture-pane reads the screen as a person sees it: the bar redrawn in place as the job
// moves, then the result table; and Ctrl-C, which leaves the job running and says how to resume.
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { baseEnv } from '../helpers/processes.js'
import { useStack } from '../helpers/stack.js'
import { waitUntil } from '../helpers/wait.js'
import { umsExecutable } from './run.js'

const run = promisify(execFile)
const PASSWORD = 'Secret-Pass1'
const IDS = 50
/** 50 emails at 10/s: about 5 s, read every 500 ms by the CLI, so the bar is seen at several points. */
const stack = useStack({ env: { AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: '10' } })

let dir: string
const socket = `ums-cli-test-${process.pid}`
const tmux = (...args: string[]) => run('tmux', ['-L', socket, '-f', '/dev/null', ...args], { env: paneEnv() })

function paneEnv(): Record<string, string> {
  const env = baseEnv({ UMS_URL: stack.current.url, TERM: 'xterm-256color', LANG: 'C.UTF-8' })
  env.PATH = `${dir}${delimiter}${env.PATH}`
  return env
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ums-tmux-'))
  await umsExecutable(dir)
})
afterAll(async () => {
  // Only this test's server, by its socket.
  await tmux('kill-server').catch(() => undefined)
  await rm(dir, { recursive: true, force: true })
})

/** A pane running `command` in bash; the shell stays after it, printing its exit code. */
async function pane(name: string, command: string): Promise<() => Promise<string>> {
  await tmux('new-session', '-d', '-s', name, '-x', '120', '-y', '40', `bash --norc --noprofile -c '${command}; echo "EXIT=$?"; exec sleep 600'`)
  return async () => (await tmux('capture-pane', '-p', '-t', name)).stdout
}

async function idsFile(): Promise<string> {
  const ids = Array.from({ length: IDS }, (_, index) => stack.current.auth0.seedUser({ email: `t${index}@example.com`, username: `t${index}`, password: PASSWORD }).user_id)
  const path = join(dir, `ids-${Date.now()}.txt`)
  await writeFile(path, ids.join('\n'))
  return path
}

/** The done counts the bar showed, screen after screen, until `until` is on the screen. */
async function watch(screen: () => Promise<string>, until: RegExp): Promise<{ counts: number[]; last: string }> {
  const counts: number[] = []
  let last = ''
  await waitUntil(async () => {
    last = await screen()
    const bar = /change-password [█░]{30} (\d+)\/(\d+) \d+% \| [\d.]+\/s \| ETA \S+/.exec(last)
    if (bar && Number(bar[2]) === IDS && counts.at(-1) !== Number(bar[1])) counts.push(Number(bar[1]))
    return until.test(last)
  }, `${until} on the screen:\n${last}`, 30_000)
  return { counts, last }
}

describe('ums in a terminal', { timeout: 60_000 }, () => {
  it('jobs change-password --wait draws a moving bar, then the result table', async () => {
    const screen = await pane('wait', `ums jobs change-password --ids-file ${await idsFile()} --wait`)
    const { counts, last } = await watch(screen, /^EXIT=\d+$/m)

    // Redrawn in place: one bar line on the screen, seen at several counts on the way to the end.
    expect(counts.length, `counts seen: ${counts.join(', ')}`).toBeGreaterThanOrEqual(3)
    expect(counts).toEqual([...counts].sort((a, b) => a - b))
    expect(counts.some((count) => count > 0 && count < IDS)).toBe(true)
    expect(last.match(/change-password [█░]/g)).toHaveLength(1)
    expect(last).toMatch(new RegExp(`change-password █{30} ${IDS}/${IDS} 100% \\| [\\d.]+/s \\| ETA 0s`))
    // The table on a terminal (stdout is one), and the exit code.
    expect(last).toMatch(/│ status\s+│ completed\s+│/)
    expect(last).toMatch(new RegExp(`│ completed\\s+│ ${IDS}\\s+│`))
    expect(last).toMatch(/│ failed\s+│ 0\s+│/)
    expect(last).toMatch(/^EXIT=0$/m)
  })

  it('Ctrl-C stops watching, prints how to resume, and the job still ends on the server', async () => {
    const screen = await pane('interrupt', `ums jobs change-password --ids-file ${await idsFile()} --wait`)
    let shown = ''
    await waitUntil(async () => {
      shown = await screen()
      return new RegExp(`change-password [█░]{30} ([1-9]\\d*)/${IDS}`).test(shown)
    }, 'the bar past 0', 30_000)
    await tmux('send-keys', '-t', 'interrupt', 'C-c')
    const { last } = await watch(screen, /^EXIT=\d+$/m)

    expect(last).toMatch(/^EXIT=130$/m)
    const resume = /Resume with:\n {2}ums jobs get change-password ([0-9a-f-]{36}) --wait\n/.exec(last)
    expect(resume, last).not.toBeNull()
    expect(last).not.toMatch(/│ status/)
    await waitUntil(async () => (await stack.call('GET', `/jobs/change-password/bulk/${resume![1]}`)).body.status === 'completed', 'the job to end', 30_000)
  })
})
