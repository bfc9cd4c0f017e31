// `npm run bench [-- scenario ...]`: runs the benchmarks of the quality bars against the emulators on loopback,
// prints one table (stdout) and writes bench/results.json. Exit code 1 when a bar is missed,
// 2 when the harness itself failed. Every run is bounded (BENCH_TIMEOUT_S, default 3600).
//
// Environment: BENCH_DURATION_S (seconds per measurement, default 3), BENCH_WARMUP_S (2),
// BENCH_ROUNDS (A/B rounds, order alternating, 4), BENCH_CONNECTIONS (16), BENCH_SCENARIOS
// (comma list, or names as arguments), BENCH_CPU_PROF (children to CPU-profile: ums,baseline,peers;
// summarize with bench/profile-summary.ts), BENCH_CPU_PROF_DIR, BENCH_PROXY_USERS (1000),
// BENCH_CP_BURST (burst of the change-password scenario's rate limit, 5), BENCH_STORE_ROUNDS (rounds
// of the durable-store scenarios: 5 for activation-stores, 2 for change-password-stores),
// BENCH_RECONCILE_REPAIR (1: the reconcile scenario also repairs, then checks again), BENCH_SOAK_S
// (seconds of the soak's mixed traffic, 300), BENCH_SOAK_LOAD (its rate as a share of the capacity
// measured first, 0.85), BENCH_SOAK_CAPACITY_S (seconds of that closed-loop capacity run, 15),
// BENCH_SOAK_WAIT_S (ums's WAIT_BEFORE_SERVER_CLOSE_SEC for the soak's final SIGTERM, 3), BENCH_CHAOS_S
// (seconds the chaos scenario submits jobs, 60), BENCH_CHAOS_SEED (replays a chaos run),
// BENCH_PROXY_CPU_RATE (req/s of each proxy in the proxy scenario's CPU rounds; default 0.3 × the
// lower closed-loop rate), BENCH_PEER_LATENCY_MS (how late the emulators answer in the latency
// scenario, 20), BENCH_LATENCY_RUNS (measured requests per route there, 15).
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { killAllChildren, ROOT } from './children.js'
import { activationScenario, activationStoresScenario } from './activation.js'
import { changePasswordScenario, changePasswordStoresScenario } from './change-password.js'
import { chaosScenario } from './chaos.js'
import { importScenario } from './import.js'
import { latencyScenario } from './latency.js'
import { proxyScenario } from './proxy.js'
import { reconcileScenario } from './reconcile.js'
import { soakScenario } from './soak.js'
import { takeoverScenario } from './takeover.js'
import type { BarRow, BenchContext, Scenario, Settings } from './scenario.js'

/** Every scenario, in running order. New benchmarks are added here. */
const SCENARIOS: Scenario[] = [
  proxyScenario,
  latencyScenario,
  importScenario,
  activationScenario,
  changePasswordScenario,
  activationStoresScenario,
  changePasswordStoresScenario,
  takeoverScenario,
  chaosScenario,
  reconcileScenario,
  soakScenario,
]

const RESULTS_FILE = join(ROOT, 'bench', 'results.json')

/** A bad setting or scenario name: reported without a stack. */
class UsageError extends Error {}

/** The variable's number, undefined when it is unset or empty. */
function optionalNumberFromEnv(name: string, min: number): number | undefined {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return undefined
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min) throw new UsageError(`${name} must be a number ≥ ${min}, got ${raw}`)
  return value
}

function numberFromEnv(name: string, fallback: number, min: number): number {
  return optionalNumberFromEnv(name, min) ?? fallback
}

function listFromEnv(name: string): string[] {
  return (process.env[name] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
}

function readSettings(): Settings {
  const storeRounds = optionalNumberFromEnv('BENCH_STORE_ROUNDS', 1)
  return {
    durationS: Math.round(numberFromEnv('BENCH_DURATION_S', 3, 1)),
    warmupS: Math.round(numberFromEnv('BENCH_WARMUP_S', 2, 1)),
    rounds: Math.round(numberFromEnv('BENCH_ROUNDS', 4, 1)),
    connections: Math.round(numberFromEnv('BENCH_CONNECTIONS', 16, 1)),
    storeRounds: storeRounds === undefined ? undefined : Math.round(storeRounds),
    cpuProfile: { children: listFromEnv('BENCH_CPU_PROF'), dir: process.env.BENCH_CPU_PROF_DIR ?? join(os.tmpdir(), 'ums-bench-profiles') },
  }
}

function selectScenarios(): Scenario[] {
  const wanted = [...process.argv.slice(2), ...listFromEnv('BENCH_SCENARIOS')]
  if (wanted.length === 0) return SCENARIOS
  const unknown = wanted.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name))
  if (unknown.length > 0) throw new UsageError(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`)
  return SCENARIOS.filter((scenario) => wanted.includes(scenario.name))
}

function textTable(header: string[], lines: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]?.length ?? 0)))
  const format = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ').trimEnd()
  return [format(header), widths.map((width) => '-'.repeat(width)).join('-|-'), ...lines.map(format)].join('\n')
}

function table(rows: Array<BarRow & { scenario: string }>): string {
  const header = ['scenario', 'check', 'baseline', 'ums', 'ratio/value', 'bar', 'result']
  return textTable(header, rows.map((row) => [row.scenario, row.check, row.baseline || '—', row.measured, row.value.toFixed(2), row.bar, row.pass ? 'PASS' : 'FAIL']))
}

function benchCommand(): string {
  const env = Object.entries(process.env)
    .filter(([name]) => name.startsWith('BENCH_'))
    .map(([name, value]) => `${name}=${value}`)
  const args = process.argv.slice(2)
  return [...env, 'npm run bench', ...(args.length > 0 ? ['--', ...args] : [])].join(' ')
}

async function main(): Promise<number> {
  const settings = readSettings()
  const scenarios = selectScenarios()
  // An hour: every scenario with `reconcile` and its opt-in repair runs takes about 45 minutes.
  const timeoutS = numberFromEnv('BENCH_TIMEOUT_S', 3600, 10)
  const watchdog = setTimeout(() => {
    console.error(`bench: still running after ${timeoutS} s (BENCH_TIMEOUT_S), giving up`)
    killAllChildren()
    process.exit(2)
  }, timeoutS * 1000)
  watchdog.unref()

  const log = (message: string) => console.error(message)
  const ctx: BenchContext = {
    settings,
    log,
    cpuProfileDir: (child) => (settings.cpuProfile.children.includes(child) ? settings.cpuProfile.dir : undefined),
  }
  const started = new Date()
  const loadBefore = os.loadavg()
  log(
    `bench: ${scenarios.map((s) => s.name).join(', ')}; ${settings.durationS} s per measurement, ${settings.warmupS} s warm-up, ` +
      `${settings.rounds} rounds, ${settings.connections} connections; node ${process.version}, ${os.cpus().length} cpus, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`,
  )

  const allRows: Array<BarRow & { scenario: string }> = []
  const tables: string[] = []
  const notes: string[] = []
  const results: Record<string, unknown> = {}
  for (const scenario of scenarios) {
    log(`\n== ${scenario.name}: ${scenario.description}`)
    const t0 = performance.now()
    const result = await scenario.run(ctx)
    const durationS = Math.round((performance.now() - t0) / 100) / 10
    allRows.push(...result.rows.map((row) => ({ scenario: scenario.name, ...row })))
    notes.push(...result.notes.map((note) => `${scenario.name}: ${note}`))
    tables.push(...(result.tables ?? []).map((extra) => `${scenario.name}: ${extra.title}\n${textTable(extra.header, extra.rows)}`))
    results[scenario.name] = {
      description: scenario.description,
      passed: result.rows.every((row) => row.pass),
      durationS,
      rows: result.rows,
      notes: result.notes,
      tables: result.tables ?? [],
      commands: result.commands,
      details: result.details,
    }
  }

  const passed = allRows.every((row) => row.pass)
  const cpus = os.cpus()
  const report = {
    date: started.toISOString(),
    command: benchCommand(),
    totalDurationS: Math.round((Date.now() - started.getTime()) / 100) / 10,
    passed,
    machine: {
      node: process.version,
      v8: process.versions.v8,
      platform: `${process.platform} ${os.release()}`,
      arch: process.arch,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      totalMemoryMB: Math.round(os.totalmem() / 2 ** 20),
      loadAverageBefore: loadBefore,
      loadAverageAfter: os.loadavg(),
    },
    settings,
    scenarios: results,
  }
  writeFileSync(RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`)

  console.log(`\n${table(allRows)}\n`)
  for (const extra of tables) console.log(`${extra}\n`)
  for (const note of notes) console.log(`- ${note}`)
  console.log(`${passed ? 'all bars met' : 'some bars missed'}; ${report.totalDurationS} s; details in bench/results.json`)
  if (settings.cpuProfile.children.length > 0) console.log(`CPU profiles of ${settings.cpuProfile.children.join(', ')} in ${settings.cpuProfile.dir}`)
  clearTimeout(watchdog)
  return passed ? 0 : 1
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench: ${signal}, stopping`)
    killAllChildren()
    process.exit(2)
  })
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    const text = error instanceof UsageError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)
    console.error(`bench failed: ${text}`)
    killAllChildren()
    process.exitCode = 2
  },
)
