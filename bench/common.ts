// Small helpers shared by the scenarios: rounding and formatting, medians, bounded JSON calls from
// the parent, job polling, CPU deltas of a child and of the whole machine, and a sampler of a
// child's resident memory.
import { readFileSync, writeFileSync } from 'node:fs'
import type { ServerChild } from './children.js'
import type { CpuSample } from './servers/ipc.js'
import type { PeerStats } from './servers/peers.js'

export const round1 = (value: number) => Math.round(value * 10) / 10
export const round2 = (value: number) => Math.round(value * 100) / 100
export const round3 = (value: number) => Math.round(value * 1000) / 1000
export const count = (value: number) => Math.round(value).toLocaleString('en-US')
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
export const MB = 2 ** 20

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}

export interface JsonAnswer<T> {
  status: number
  body: T
  text: string
}

/** One HTTP call with a JSON (or raw) body, bounded by `timeoutMs`; the answer parsed when it is JSON. */
export async function callJson<T = unknown>(
  method: string,
  url: string,
  options: { json?: unknown; body?: RequestInit['body']; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<JsonAnswer<T>> {
  const headers: Record<string, string> = { ...options.headers }
  let body = options.body
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.json)
  }
  const response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) })
  const text = await response.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // Not JSON: kept as text.
  }
  return { status: response.status, body: parsed as T, text }
}

/** Polls `GET url` every `everyMs` until the job is no longer pending; throws after `timeoutMs`. */
export async function waitForJob<T extends { status?: string }>(url: string, timeoutMs: number, everyMs = 25): Promise<{ body: T; polls: number; doneAt: number }> {
  const deadline = performance.now() + timeoutMs
  for (let polls = 1; ; polls += 1) {
    const answer = await callJson<T>('GET', url, { timeoutMs: 10_000 })
    if (answer.status !== 200) throw new Error(`GET ${url}: ${answer.status} ${answer.text.slice(0, 300)}`)
    if (answer.body.status !== 'pending') return { body: answer.body, polls, doneAt: performance.now() }
    if (performance.now() > deadline) throw new Error(`job still pending after ${timeoutMs} ms: ${answer.text.slice(0, 300)}`)
    await sleep(everyMs)
  }
}

export interface CpuDelta {
  /** CPU time (user + system) used between the two samples, ms. */
  cpuMs: number
  /** Average cores busy over `wallMs`. */
  cores: number
}

export function cpuDelta(before: CpuSample, after: CpuSample, wallMs: number): CpuDelta {
  const cpuMs = (after.userUs - before.userUs + (after.systemUs - before.systemUs)) / 1000
  return { cpuMs: Math.round(cpuMs), cores: round2(wallMs > 0 ? cpuMs / wallMs : 0) }
}

/** Busy CPU time of the whole machine so far, ms (Linux /proc/stat); undefined elsewhere. */
export function machineBusyMs(): number | undefined {
  try {
    const fields = /^cpu\s+(.*)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]?.split(/\s+/).map(Number)
    if (!fields || fields.length < 8) return undefined
    // user nice system idle iowait irq softirq steal, in clock ticks (100 a second on Linux).
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields
    return (user + nice + system + irq + softirq + steal) * 10
  } catch {
    return undefined
  }
}

/**
 * Average cores the whole machine kept busy between two machineBusyMs() readings: with the
 * scenario's own processes' share known, what is left is other work disturbing the measurement.
 */
export function machineCores(beforeMs: number | undefined, afterMs: number | undefined, wallMs: number): number | undefined {
  return beforeMs === undefined || afterMs === undefined || wallMs <= 0 ? undefined : round2((afterMs - beforeMs) / wallMs)
}

/** CPU samples of several children at once. */
export function cpuOf(children: Array<ServerChild<unknown>>): Promise<CpuSample[]> {
  return Promise.all(children.map((child) => child.cpu()))
}

function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) : undefined
  } catch {
    return undefined
  }
}

/** A process's resident set now, bytes (Linux /proc); undefined elsewhere or once it has exited. */
export function residentBytes(pid: number): number | undefined {
  const kb = procStatusKb(pid, 'VmRSS')
  return kb === undefined ? undefined : kb * 1024
}

export interface RssReport {
  /** Highest resident set seen, bytes: the kernel's high-water mark when available, else the samples'. */
  peakBytes: number
  /** How the peak was obtained. */
  method: string
  samples: number
  /** Highest of the periodic samples alone, bytes. */
  sampledPeakBytes: number
  /** Resident set at the start, bytes. */
  startBytes: number
}

/**
 * Samples a child's resident set from outside (Linux /proc, so a busy event loop in the child does
 * not delay the samples) every `everyMs`, after resetting the kernel's peak (`clear_refs` 5) so the
 * high-water mark covers only the sampled span. Elsewhere it falls back to the child's own
 * `process.memoryUsage.rss()` through IPC.
 */
export class RssSampler {
  private samples = 0
  private sampledPeak = 0
  private start = 0
  private timer: NodeJS.Timeout | undefined
  private hwmReset = false
  private readonly viaProc: boolean
  private ipcPending = false

  constructor(
    private readonly child: ServerChild<unknown>,
    private readonly everyMs = 10,
  ) {
    this.viaProc = child.pid !== undefined && procStatusKb(child.pid, 'VmRSS') !== undefined
  }

  async begin(): Promise<void> {
    const pid = this.child.pid
    if (this.viaProc && pid !== undefined) {
      try {
        writeFileSync(`/proc/${pid}/clear_refs`, '5')
        this.hwmReset = true
      } catch {
        this.hwmReset = false
      }
    }
    await this.sample()
    this.start = this.sampledPeak
    this.timer = setInterval(() => void this.sample(), this.everyMs)
  }

  private async sample(): Promise<void> {
    const pid = this.child.pid
    let bytes: number | undefined
    if (this.viaProc && pid !== undefined) {
      const kb = procStatusKb(pid, 'VmRSS')
      bytes = kb === undefined ? undefined : kb * 1024
    } else if (!this.ipcPending) {
      this.ipcPending = true
      try {
        bytes = (await this.child.cpu()).rssBytes
      } finally {
        this.ipcPending = false
      }
    }
    if (bytes === undefined) return
    this.samples += 1
    this.sampledPeak = Math.max(this.sampledPeak, bytes)
  }

  async end(): Promise<RssReport> {
    clearInterval(this.timer)
    await this.sample()
    const pid = this.child.pid
    const hwmKb = this.viaProc && this.hwmReset && pid !== undefined ? procStatusKb(pid, 'VmHWM') : undefined
    const peak = Math.max(this.sampledPeak, (hwmKb ?? 0) * 1024)
    return {
      peakBytes: peak,
      method:
        hwmKb !== undefined
          ? `max of /proc VmRSS every ${this.everyMs} ms and VmHWM (reset before the request)`
          : this.viaProc
            ? `/proc VmRSS every ${this.everyMs} ms`
            : `process.memoryUsage.rss() through IPC every ${this.everyMs} ms`,
      samples: this.samples,
      sampledPeakBytes: this.sampledPeak,
      startBytes: this.start,
    }
  }
}

/** A peer's routes with their first and last arrival in ms after `sinceEpochMs` (e.g. the POST of a job). */
export function routeTimeline(routes: PeerStats['routes'], sinceEpochMs: number): Record<string, { outcomes: Record<string, number>; firstMs: number; lastMs: number }> {
  return Object.fromEntries(
    Object.entries(routes).map(([route, stats]) => [route, { outcomes: stats.outcomes, firstMs: stats.firstAtMs - sinceEpochMs, lastMs: stats.lastAtMs - sinceEpochMs }]),
  )
}
