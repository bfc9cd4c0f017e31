// Test helpers for the processes the tests start themselves (the sandbox, `npm start`): free
// loopback ports in a row, output capture, the process tree under a pid, and which of those
// processes still run. Everything is torn down by pid, never by name.
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { connect, createServer } from 'node:net'
import { delimiter, dirname } from 'node:path'
import { promisify } from 'node:util'
import { sleep } from './wait.js'

const run = promisify(execFile)

async function canListen(port: number): Promise<boolean> {
  const server = createServer()
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => resolve(true))
  })
  if (listening) await new Promise((resolve) => server.close(resolve))
  return listening
}

/**
 * `count` free loopback ports in a row (the sandbox puts its emulators after HTTP_PORT). Drawn
 * below Linux's ephemeral range: no outgoing connection takes one between the check and the listen
 * (with the files running side by side, connections come and go all the time).
 */
export async function consecutiveFreePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base = 20_000 + Math.floor(Math.random() * 12_000)
    let free = true
    for (let port = base; free && port < base + count; port += 1) free = await canListen(port)
    if (free) return base
  }
  throw new Error(`no ${count} free ports in a row`)
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

export interface Started {
  child: ChildProcess
  pid: number
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Resolves once stdout contains `text`; rejects on exit or after `timeoutMs`. */
  waitForOutput: (text: string, timeoutMs?: number) => Promise<void>
}

export function start(command: string, args: string[], options: SpawnOptions): Started {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
  if (child.pid === undefined) throw new Error(`${command} did not start`)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  let done = false
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true
      resolve({ code, signal })
    }),
  )
  const waitForOutput = async (text: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs
    while (!stdout.includes(text)) {
      if (done) throw new Error(`${command} exited before printing "${text}":\n${stdout}\n${stderr}`)
      if (Date.now() > deadline) throw new Error(`${command} did not print "${text}" in time:\n${stdout}\n${stderr}`)
      await sleep(50)
    }
  }
  return { child, pid: child.pid, stdout: () => stdout, stderr: () => stderr, exited, waitForOutput }
}

async function processTable(): Promise<Array<{ pid: number; ppid: number; state: string }>> {
  const { stdout } = await run('ps', ['-A', '-o', 'pid=,ppid=,stat='])
  return stdout
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .map(([pid, ppid, state]) => ({ pid: Number(pid), ppid: Number(ppid), state: state ?? '' }))
}

/** `pid` and every process under it. */
export async function processTree(pid: number): Promise<number[]> {
  const table = await processTable()
  const tree = [pid]
  for (let index = 0; index < tree.length; index += 1) {
    for (const row of table) if (row.ppid === tree[index]) tree.push(row.pid)
  }
  return tree
}

/** Those of `pids` still running (a zombie has exited: it only waits to be reaped). */
export async function running(pids: number[]): Promise<number[]> {
  const table = await processTable()
  return pids.filter((pid) => table.some((row) => row.pid === pid && !row.state.startsWith('Z')))
}

/** Kills with SIGKILL whichever of `pids` still run: the clean-up after a failed test. */
export async function killAll(pids: number[]): Promise<void> {
  for (const pid of await running(pids)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // It exited in between.
    }
  }
}

/**
 * A clean environment for the processes under test: none of the caller's configuration leaks in.
 * This node's directory leads PATH, so `node` and `npm` are the ones running the tests.
 */
export function baseEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { PATH: [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter) }
  if (process.env.HOME !== undefined) env.HOME = process.env.HOME
  return { ...env, ...extra }
}
