// The parent side of bench/servers/ipc.ts: forks a server entry (TypeScript, through tsx) in its
// own process, waits for `ready`, forwards calls and stops it. Every child is tracked so a
// failing or timed-out run can kill what it started.
import { fork, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CpuSample, FromChild, ToChild } from './servers/ipc.js'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))

const live = new Set<ChildProcess>()

export interface ChildOptions {
  /** Label in messages and in BENCH_CPU_PROF (e.g. `ums`, `baseline`, `peers`). */
  name: string
  /** Entry file under bench/servers/, e.g. `ums.ts`. */
  entry: string
  /** JSON options handed to the child (read with childOptions()). */
  options?: unknown
  startTimeoutMs?: number
  /** Write V8 CPU profiles of this child into `<this folder>/<name>/` (`--cpu-prof`). */
  cpuProfileDir?: string
  /** Extra Node.js flags, e.g. `--expose-gc`. */
  nodeFlags?: string[]
}

export interface ChildExit {
  code: number | null
  signal: NodeJS.Signals | null
  atMs: number
}

export class ServerChild<Info> {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  private readonly exited: Promise<void>
  private exitStatus: ChildExit | undefined

  constructor(
    readonly name: string,
    private readonly process: ChildProcess,
    readonly info: Info,
  ) {
    this.exited = new Promise((resolve) => {
      if (process.exitCode !== null || process.signalCode !== null) resolve()
      else process.once('exit', () => resolve())
    })
    process.on('message', (message: FromChild) => {
      if (message.type !== 'result') return
      const waiter = this.pending.get(message.id)
      if (!waiter) return
      this.pending.delete(message.id)
      if (message.ok) waiter.resolve(message.value)
      else waiter.reject(new Error(`${this.name}: ${message.error}`))
    })
    process.once('exit', (code, signal) => {
      this.exitStatus = { code, signal, atMs: performance.timeOrigin + performance.now() }
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${this.name} exited (${signal ?? code})`))
      this.pending.clear()
    })
  }

  /** How and when (epoch ms) the child exited; undefined while it runs. */
  get exit(): ChildExit | undefined {
    return this.exitStatus
  }

  get pid(): number | undefined {
    return this.process.pid
  }

  call<T>(method: string, arg?: unknown, timeoutMs = 30_000): Promise<T> {
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`${this.name}: ${method} took over ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer)
          resolve(value as T)
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      })
      const message: ToChild = { type: 'call', id, method, arg }
      this.process.send(message)
    })
  }

  cpu(): Promise<CpuSample> {
    return this.call<CpuSample>('cpu')
  }

  /** Sends `signal` at once (SIGKILL stands for a crash: nothing is closed); settles once the child has exited. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    this.process.kill(signal)
    await this.exited
    live.delete(this.process)
  }

  /** Asks the child to close and exit; killed when it has not exited within `timeoutMs`. */
  async stop(timeoutMs = 8_000): Promise<void> {
    if (this.process.connected) this.process.send({ type: 'stop' } satisfies ToChild)
    const timer = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs)
    await this.exited
    clearTimeout(timer)
    live.delete(this.process)
  }
}

export async function startChild<Info>(options: ChildOptions): Promise<ServerChild<Info>> {
  const execArgv = ['--import', 'tsx', ...(options.nodeFlags ?? [])]
  if (options.cpuProfileDir) {
    // One folder per child; V8 names the files CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile,
    // thread 0 being the main one (tsx's loader thread writes its own).
    const dir = join(options.cpuProfileDir, options.name)
    mkdirSync(dir, { recursive: true })
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${dir}`)
  }
  const entry = fileURLToPath(new URL(`./servers/${options.entry}`, import.meta.url))
  const child = fork(entry, [JSON.stringify(options.options ?? {})], {
    cwd: ROOT,
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  track(child)

  const timeoutMs = options.startTimeoutMs ?? 30_000
  const info = await new Promise<Info>((resolve, reject) => {
    const fail = (error: Error) => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(error)
    }
    const timer = setTimeout(() => fail(new Error(`${options.name} did not start within ${timeoutMs} ms`)), timeoutMs)
    const onMessage = (message: FromChild) => {
      if (message.type === 'ready') {
        clearTimeout(timer)
        child.off('message', onMessage)
        child.off('exit', onExit)
        resolve(message.info as Info)
      } else if (message.type === 'fatal') {
        fail(new Error(`${options.name} failed to start: ${message.error}`))
      }
    }
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(new Error(`${options.name} exited before ready (${signal ?? code})`))
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
  return new ServerChild<Info>(options.name, child, info)
}

/** Tracks a process started elsewhere (the load generator) so killAllChildren() reaches it too. */
export function track(child: ChildProcess): void {
  live.add(child)
  child.once('exit', () => live.delete(child))
}

/** Last resort (fatal error, global timeout): kills every child still running, by its own handle. */
export function killAllChildren(): void {
  for (const child of live) child.kill('SIGKILL')
  live.clear()
}
