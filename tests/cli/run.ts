// Runs the `ums` command line as people do: a child process of its own (from the TypeScript sources,
// bundled once, so no build is needed), and an `ums` executable for shells and terminals.
import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { baseEnv } from '../helpers/processes.js'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const CLI_SOURCE = join(ROOT, 'sdk/src/cli/main.ts')

let bundled: Promise<string> | undefined

/**
 * The CLI's sources bundled into one JavaScript file, once per test process: each run then starts
 * a plain node (a tenth of a second) instead of transpiling the sources again through a loader
 * (over a second of CPU each, on a machine running other test files too). The bundle sits in the
 * checkout so that its packages resolve from node_modules.
 */
export function cliEntry(): Promise<string> {
  bundled ??= (async () => {
    const { build } = await import('esbuild')
    const outfile = join(ROOT, 'node_modules/.cache/ums-cli-tests', `main-${process.pid}-${Date.now()}.mjs`)
    await build({ entryPoints: [CLI_SOURCE], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'silent' })
    process.once('exit', () => rmSync(outfile, { force: true }))
    return outfile
  })()
  return bundled
}

export interface CliRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  /** UMS_URL of the run (none: the CLI's default). */
  url?: string
  env?: Record<string, string>
  cwd?: string
  timeoutMs?: number
}

/** `ums ...args` to its end: exit code, stdout and stderr (stdin and every stream not a terminal). */
export async function runUms(args: string[], options: RunOptions = {}): Promise<CliRun> {
  const env = baseEnv({ ...(options.url ? { UMS_URL: options.url } : {}), ...options.env })
  const child = spawn(process.execPath, [await cliEntry(), ...args], { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000)
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

/** The JSON a run printed on stdout; fails naming the run when it is not JSON. */
export function stdoutJson(run: CliRun): any {
  try {
    return JSON.parse(run.stdout)
  } catch {
    throw new Error(`stdout is not JSON (exit ${run.code}):\n${run.stdout}\nstderr:\n${run.stderr}`)
  }
}

/**
 * Writes `dir/ums`, an executable running the CLI from its sources with the node running the
 * tests (or from `entry`, a built main.js), for a shell that has `dir` on its PATH.
 */
export async function umsExecutable(dir: string, entry?: string): Promise<string> {
  const path = join(dir, 'ums')
  const command = `'${process.execPath}' '${entry ?? (await cliEntry())}'`
  await writeFile(path, `#!/usr/bin/env bash\nexec ${command} "$@"\n`)
  await chmod(path, 0o755)
  return path
}
