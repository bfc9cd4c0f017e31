// Closed-loop HTTP load with autocannon, run in a child process of its own (bench/servers/autocannon.ts)
// so it never shares an event loop with a measured server. The child stays up for a whole scenario:
// starting autocannon's CLI for every run cost over a second each on a busy two-core machine.
// Every result carries the equivalent CLI command. `PacedLoad` sends requests at a fixed rate instead
// (open loop), for CPU time per request.
import { startChild, type ServerChild } from './children.js'
import type { PacedRunArg, PacedRunResult } from './servers/paced-load.js'

export interface LoadOptions {
  url: string
  connections: number
  durationS: number
  /** Extra request headers. */
  headers?: Record<string, string>
}

export interface LoadResult {
  /** The same run with autocannon's CLI (from the project root). */
  command: string
  /** Completed requests per second over the whole run (total / duration). */
  requestsPerSec: number
  /** autocannon's mean of its per-second samples. */
  requestsPerSecSampled: number
  requests: number
  durationS: number
  latencyMs: { average: number; p50: number; p90: number; p99: number; max: number }
  bytesPerSec: number
  errors: number
  timeouts: number
  non2xx: number
}

interface RawResult {
  requests: { average: number; total: number }
  latency: { average: number; p50: number; p90: number; p99: number; max: number }
  throughput: { average: number }
  duration: number
  errors: number
  timeouts: number
  non2xx: number
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}

export function autocannonCommand(options: LoadOptions): string {
  const args = ['npx', 'autocannon', '-c', String(options.connections), '-d', String(options.durationS)]
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}=${value}`)
  args.push(options.url)
  return args.map(shellQuote).join(' ')
}

export class LoadGenerator {
  private constructor(private readonly child: ServerChild<{ pid: number }>) {}

  static async start(): Promise<LoadGenerator> {
    return new LoadGenerator(await startChild<{ pid: number }>({ name: 'load', entry: 'autocannon.ts' }))
  }

  async run(options: LoadOptions): Promise<LoadResult> {
    // Bounded whatever happens to the servers: autocannon's own deadline plus a margin.
    const raw = await this.child.call<RawResult>('run', options, (options.durationS + 30) * 1000)
    const { requests, latency } = raw
    return {
      command: autocannonCommand(options),
      requestsPerSec: raw.duration > 0 ? requests.total / raw.duration : 0,
      requestsPerSecSampled: requests.average,
      requests: requests.total,
      durationS: raw.duration,
      latencyMs: { average: latency.average, p50: latency.p50, p90: latency.p90, p99: latency.p99, max: latency.max },
      bytesPerSec: raw.throughput.average,
      errors: raw.errors,
      timeouts: raw.timeouts,
      non2xx: raw.non2xx,
    }
  }

  stop(): Promise<void> {
    return this.child.stop()
  }
}

/** Open-loop load at a fixed rate (bench/servers/paced-load.ts), in a process of its own. */
export class PacedLoad {
  private constructor(private readonly child: ServerChild<{ pid: number }>) {}

  static async start(): Promise<PacedLoad> {
    return new PacedLoad(await startChild<{ pid: number }>({ name: 'paced-load', entry: 'paced-load.ts' }))
  }

  run(arg: PacedRunArg): Promise<PacedRunResult> {
    return this.child.call<PacedRunResult>('run', arg, (arg.durationS + 30) * 1000)
  }

  stop(): Promise<void> {
    return this.child.stop()
  }
}
