// What a benchmark scenario is: a module exporting a Scenario (bench/run.ts lists them). Each one
// starts the servers it needs as children (bench/children.ts), drives load from yet another
// process (bench/load.ts) and returns rows checked against the quality bars plus its raw data.

export interface Settings {
  /** Seconds of one measurement (BENCH_DURATION_S). */
  durationS: number
  /** Seconds of warm-up load before measuring a target (BENCH_WARMUP_S). */
  warmupS: number
  /** A/B rounds per comparison; the order alternates each round (BENCH_ROUNDS). */
  rounds: number
  /** Concurrent connections of the load generator (BENCH_CONNECTIONS). */
  connections: number
  /** Rounds of the durable-store scenarios (BENCH_STORE_ROUNDS); undefined: each scenario's own default. */
  storeRounds: number | undefined
  /** Children to CPU-profile (BENCH_CPU_PROF=ums,baseline,peers) and where (BENCH_CPU_PROF_DIR). */
  cpuProfile: { children: string[]; dir: string }
}

export interface BenchContext {
  settings: Settings
  /** Progress line on stderr (stdout carries the table). */
  log(message: string): void
  /** The profile folder when the named child should be CPU-profiled, else undefined. */
  cpuProfileDir(child: string): string | undefined
}

/** One line of the table: a measurement against its bar. */
export interface BarRow {
  check: string
  /** Reference measurement, '' when the bar is absolute. */
  baseline: string
  measured: string
  /** The compared value: a ratio for relative bars, the measured value otherwise. */
  value: number
  bar: string
  pass: boolean
}

/** A table of its own, printed under the bars (e.g. one row per route). */
export interface ResultTable {
  title: string
  header: string[]
  rows: string[][]
}

export interface ScenarioResult {
  rows: BarRow[]
  /** Shell commands of the measurements (exact, with this run's ports). */
  commands: string[]
  /** Lines printed under the table (what the bar alone does not show). */
  notes: string[]
  /** Tables printed after the bars, before the notes. */
  tables?: ResultTable[]
  /** Raw numbers, kept as they are in bench/results.json. */
  details: unknown
}

export interface Scenario {
  name: string
  description: string
  run(ctx: BenchContext): Promise<ScenarioResult>
}
