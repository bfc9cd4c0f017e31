// The durable-store variants of a job workload: the workload (its measurement is the scenario
// module's own) run with ums's jobs in memory, on PostgreSQL and on Redis, each run on a store of
// its own (bench/stores.ts), in one bench invocation. Bar per durable store: its time at most
// 1.10 × the in-memory time of the same invocation.
//
// A 2-core machine drifts (other processes, CPU frequency, page cache): each round runs every
// variant back to back, in-memory, PostgreSQL, Redis, then the reverse in the next round, and the
// ratio is the median over the rounds of the store's time over the in-memory time of its own
// round, so that a slow spell weighs on both sides of a ratio, and one disturbed round is
// outvoted. The time columns are the medians of each variant's runs.
import { count, median, round2, round3 } from './common.js'
import type { BarRow, BenchContext, ScenarioResult } from './scenario.js'
import { DURABLE_STORES, isolatedStore, STORE_LABELS, type IsolatedStore, type StoreKind } from './stores.js'

const STORE_BAR_FACTOR = 1.1

/** One run of the workload. */
export interface StoreRun {
  wallMs: number
  /** The wall time cut into the workload's phases, ms, in order (NaN when a phase was not seen). */
  phasesMs: Record<string, number>
  /** The run did the whole workload (the workload's own checks). */
  ok: boolean
  /** What the run did, in a few words (notes). */
  outcome: string
  /** Cores the whole machine kept busy during the timed span, and those of ums and the emulators. */
  machineCores: number | undefined
  ownCores: number
  /** CPU time of ums over the timed span (the job, and the polls answering its status), ms. */
  umsCpuMs: number
  /** Commands of the run (with its ports). */
  commands: string[]
  details: unknown
}

export interface StoreComparison {
  /** The workload as the check column names it, e.g. `10,000 users activated`. */
  workload: string
  /** Rounds unless BENCH_STORE_ROUNDS says otherwise: a noisier workload needs more. */
  defaultRounds: number
  /** Runs the workload once with ums on `store`; stops what it started before returning. */
  measure(store: IsolatedStore): Promise<StoreRun>
}

interface OrderedRun extends StoreRun {
  round: number
  /** Position in the whole invocation, from 1. */
  order: number
  env: Record<string, string>
}

const seconds = (ms: number) => `${round3(ms / 1000)} s`

/** Rounds of every variant, alternating; one bar row per durable store. */
export async function compareStores(ctx: BenchContext, comparison: StoreComparison): Promise<ScenarioResult> {
  const rounds = ctx.settings.storeRounds ?? comparison.defaultRounds
  const kinds: StoreKind[] = ['memory', ...DURABLE_STORES]
  const runs = new Map<StoreKind, OrderedRun[]>(kinds.map((kind) => [kind, []]))
  let order = 0
  for (let round = 0; round < rounds; round += 1) {
    for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
      order += 1
      ctx.log(`round ${round + 1}/${rounds}: jobs ${STORE_LABELS[kind]}`)
      const store = await isolatedStore(kind)
      try {
        runs.get(kind)!.push({ ...(await comparison.measure(store)), round, order, env: store.env })
      } finally {
        await store.cleanup()
      }
    }
  }

  const memoryRuns = runs.get('memory')!
  const figure = (kind: StoreKind) => {
    const of = runs.get(kind)!
    const failed = of.filter((run) => !run.ok).length
    return { medianMs: median(of.map((run) => run.wallMs)), failed, incomplete: failed > 0 ? `, ${failed}/${of.length} runs incomplete` : '' }
  }
  const memory = figure('memory')
  const ratiosOf = (kind: StoreKind) => runs.get(kind)!.map((run) => run.wallMs / memoryRuns[run.round]!.wallMs)
  const rows: BarRow[] = DURABLE_STORES.map((kind) => {
    const store = figure(kind)
    const ratio = median(ratiosOf(kind))
    return {
      check: `${comparison.workload}, ${STORE_LABELS[kind]}`,
      baseline: `in-memory ${seconds(memory.medianMs)}${memory.incomplete}`,
      measured: `${STORE_LABELS[kind]} ${seconds(store.medianMs)}${store.incomplete}`,
      value: ratio,
      bar: `≤ ${STORE_BAR_FACTOR.toFixed(2)} × in-memory`,
      pass: ratio <= STORE_BAR_FACTOR && memory.failed === 0 && store.failed === 0,
    }
  })
  const phaseMedian = (kind: StoreKind, phase: string) => median(runs.get(kind)!.map((run) => run.phasesMs[phase] ?? Number.NaN))
  const phaseNames = Object.keys(memoryRuns[0]?.phasesMs ?? {})
  const signed = (ms: number) => (Number.isNaN(ms) ? '?' : `${ms >= 0 ? '+' : '−'}${Math.round(Math.abs(ms))}`)
  const describe = (run: OrderedRun) => `#${run.order} ${round2(run.wallMs / 1000)}${run.machineCores === undefined ? '' : ` (${run.machineCores}/${run.ownCores})`}`
  const notes = [
    `${rounds} run${rounds === 1 ? '' : 's'} per store (BENCH_STORE_ROUNDS), ${rounds * kinds.length} in all, each round running ` +
      `${kinds.map((kind) => STORE_LABELS[kind]).join(', ')} back to back, the next one in the reverse order; each run with fresh emulators and ums, ` +
      `each durable run on a PostgreSQL schema or Redis key prefix of its own. Times: medians of each store's ${rounds} runs; ` +
      `ratio: median over the rounds of the store's time / the in-memory time of the same round (${DURABLE_STORES.map((kind) => `${STORE_LABELS[kind]} ${ratiosOf(kind).map(round3).join(', ')}`).join('; ')})`,
    `runs in seconds, by running order, with (machine busy cores / of which ums and the emulators; the rest is the store's server and other processes): ` +
      kinds.map((kind) => `${STORE_LABELS[kind]} ${runs.get(kind)!.map(describe).join(', ')}`).join('; '),
    `ums CPU during a run (medians): ${kinds.map((kind) => `${STORE_LABELS[kind]} ${count(median(runs.get(kind)!.map((run) => run.umsCpuMs)))} ms`).join(', ')}`,
    `phases (medians, ms) where a store adds time: in-memory ${phaseNames.map((phase) => `${phase} ${Math.round(phaseMedian('memory', phase))}`).join(', ')}; ` +
      DURABLE_STORES.map((kind) => `${STORE_LABELS[kind]} − in-memory ${phaseNames.map((phase) => signed(phaseMedian(kind, phase) - phaseMedian('memory', phase))).join(', ')}`).join('; '),
    ...kinds.flatMap((kind) => runs.get(kind)!.filter((run) => !run.ok).map((run) => `${STORE_LABELS[kind]} run #${run.order} incomplete: ${run.outcome}`)),
  ]
  return {
    rows,
    commands: kinds.flatMap((kind) => {
      const first = runs.get(kind)![0]
      if (!first) return []
      const env = Object.entries(first.env).map(([name, value]) => `${name}=${value}`)
      return [`# jobs ${STORE_LABELS[kind]}, first run: ums with ${env.length > 0 ? env.join(' ') : 'no JOBS_STORE_URL'}`, ...first.commands]
    }),
    notes,
    details: {
      rounds,
      barFactor: STORE_BAR_FACTOR,
      medianMs: Object.fromEntries(kinds.map((kind) => [kind, Math.round(figure(kind).medianMs)])),
      ratios: Object.fromEntries(DURABLE_STORES.map((kind) => [kind, ratiosOf(kind).map(round3)])),
      runs: Object.fromEntries(
        kinds.map((kind) => [
          kind,
          runs.get(kind)!.map((run) => ({
            round: run.round + 1,
            order: run.order,
            env: run.env,
            wallMs: Math.round(run.wallMs),
            ok: run.ok,
            outcome: run.outcome,
            phasesMs: Object.fromEntries(Object.entries(run.phasesMs).map(([phase, ms]) => [phase, Math.round(ms)])),
            machineCores: run.machineCores,
            ownCores: run.ownCores,
            umsCpuMs: run.umsCpuMs,
            details: run.details,
          })),
        ]),
      ),
    },
  }
}
