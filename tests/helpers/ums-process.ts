// One ums process of the production entry (src/index.ts), with its output captured and its exit
// recorded; for the tests and benchmarks that run replicas the way production does. Nothing here
// tears processes down: the caller kills what it started.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { call } from './http.js'
import { bundled } from './bundle.js'
import { baseEnv } from './processes.js'
import { waitUntil } from './wait.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** pino's level of `error`: a line at or above it is an error line. */
const ERROR_LEVEL = 50

export interface UmsProcess {
  name: string
  url: string
  child: ChildProcess
  /** Everything the process printed, stdout and stderr. */
  output: string[]
  /** Resolves with the time the process exited. */
  exited: Promise<number>
}

/** Whether the process still runs (it may not have been reaped yet). */
export function isRunning(ums: UmsProcess): boolean {
  return ums.child.exitCode === null && ums.child.signalCode === null
}

/** Spawns the production entry (src/index.ts, bundled) with `env`, listening on `port`; does not wait for it. */
export function spawnUms(name: string, env: Record<string, string>, port: number): UmsProcess {
  const child = spawn(process.execPath, [bundled('src/index.ts')], {
    cwd: ROOT,
    env: baseEnv({ ...env, HTTP_PORT: String(port) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const output: string[] = []
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()))
  const exited = new Promise<number>((resolve) => child.once('exit', () => resolve(Date.now())))
  return { name, url: `http://127.0.0.1:${port}`, child, output, exited }
}

/** Waits until `ums` answers 200 on /-/ready; fails at once if it exits first. */
export async function waitUntilReady(ums: UmsProcess, timeoutMs = 30_000): Promise<void> {
  await waitUntil(async () => {
    if (!isRunning(ums)) throw new Error(`${ums.name} exited: ${ums.output.join('')}`)
    return (await call(ums.url, 'GET', '/-/ready').catch(() => ({ status: 0 }))).status === 200
  }, `${ums.name} to be ready`, timeoutMs)
}

/**
 * The lines of a process's output that report an error: JSON log lines at level error or above,
 * and anything that is not a log line (a stack printed by a crash).
 */
export function errorLines(ums: UmsProcess): string[] {
  return ums.output
    .join('')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .filter((line) => {
      try {
        const record = JSON.parse(line) as { level?: unknown }
        return typeof record.level !== 'number' || record.level >= ERROR_LEVEL
      } catch {
        return true
      }
    })
}
