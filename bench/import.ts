// The CSV import bars: `PATCH /users/import` of a generated `customer` CSV (`;`-delimited,
// `[a, b]` tags) of 10,000 rows (~0.8 MB, under the default USER_IMPORT_MAX_FILE_SIZE) and of
// 100,000 rows (~8 MB, through a second ums child whose limit is raised). Each ums child first
// imports a small warm-up file (then the emulators are reset), so the measured import does not pay
// for the first compilation of its code paths. The wall time is the client's: from sending the
// upload to the parsed answer. ums's resident memory is sampled from outside during the request.
import { startChild, type ServerChild } from './children.js'
import { callJson, cpuDelta, cpuOf, count, MB, round2, round3, RssSampler, type CpuDelta, type RssReport } from './common.js'
import { importCsv } from './data.js'
import type { BarRow, BenchContext, Scenario, ScenarioResult } from './scenario.js'
import type { PeersInfo, PeersOptions, StatsAnswer } from './servers/peers.js'
import type { UmsInfo, UmsOptions } from './servers/ums.js'

const ROWS = 10_000
const BIG_ROWS = 100_000
const WARMUP_ROWS = 500
const BAR_S = 1
const BIG_BAR_S = 8
const BIG_RSS_BAR_MB = 300
/** USER_IMPORT_MAX_FILE_SIZE of the 100,000-row run (the default, 1 MiB, refuses ~8 MB). */
const BIG_MAX_FILE_SIZE = 16 * MB
const ORIGINAL = 'original: 200 rows in 24 s'

interface ImportAnswer {
  updated: string[]
  inserted: string[]
  invalid: Array<{ row: number; error: string }>
}

export interface ImportRun {
  rows: number
  fileBytes: number
  wallMs: number
  rowsPerSec: number
  status: number
  inserted: number
  updated: number
  invalid: number
  /** First invalid entries, when any. */
  invalidSample: ImportAnswer['invalid']
  /** Users in the CRUD emulator afterwards (`GET /users/count`, emulators reset before the run). */
  storedUsers: number
  umsCpu: CpuDelta
  peersCpu: CpuDelta
  umsRss: RssReport & { peakMB: number; startMB: number }
  /** CRUD calls during the run, per route and status. */
  crudCalls: StatsAnswer['crud']['routes']
}

/** The curl equivalent of the upload (the file written where the command says). */
function curlCommand(url: string, file: string): string {
  return `curl -sS -X PATCH -F 'file=@${file};type=text/csv' -F 'delimiter=;' ${url}/users/import`
}

async function upload(url: string, csv: Buffer, timeoutMs: number) {
  const form = new FormData()
  form.append('file', new Blob([csv], { type: 'text/csv' }), 'users.csv')
  form.append('delimiter', ';')
  return callJson<ImportAnswer>('PATCH', `${url}/users/import`, { body: form, timeoutMs })
}

function checkAnswer(label: string, answer: Awaited<ReturnType<typeof upload>>, rows: number): void {
  if (answer.status !== 200) throw new Error(`${label}: PATCH /users/import answered ${answer.status}: ${answer.text.slice(0, 300)}`)
  if (!Array.isArray(answer.body.inserted)) throw new Error(`${label}: unexpected answer ${answer.text.slice(0, 300)}`)
  if (answer.body.inserted.length + answer.body.invalid.length !== rows) {
    throw new Error(`${label}: ${answer.body.inserted.length} inserted + ${answer.body.invalid.length} invalid for ${rows} rows`)
  }
}

async function measure(
  ctx: BenchContext,
  label: string,
  ums: ServerChild<UmsInfo>,
  peers: ServerChild<PeersInfo>,
  csv: Buffer,
  rows: number,
): Promise<ImportRun> {
  await peers.call('reset')
  const rss = new RssSampler(ums)
  await rss.begin()
  const [umsBefore, peersBefore] = await cpuOf([ums, peers])
  const started = performance.now()
  const answer = await upload(ums.info.url, csv, 120_000)
  const wallMs = performance.now() - started
  const [umsAfter, peersAfter] = await cpuOf([ums, peers])
  const memory = await rss.end()
  checkAnswer(label, answer, rows)
  const stored = await callJson<number>('GET', `${peers.info.crud}/users/count`)
  const stats = await peers.call<StatsAnswer>('stats')
  const run: ImportRun = {
    rows,
    fileBytes: csv.length,
    wallMs: Math.round(wallMs),
    rowsPerSec: Math.round((rows * 1000) / wallMs),
    status: answer.status,
    inserted: answer.body.inserted.length,
    updated: answer.body.updated.length,
    invalid: answer.body.invalid.length,
    invalidSample: answer.body.invalid.slice(0, 5),
    storedUsers: typeof stored.body === 'number' ? stored.body : -1,
    umsCpu: cpuDelta(umsBefore!, umsAfter!, wallMs),
    peersCpu: cpuDelta(peersBefore!, peersAfter!, wallMs),
    umsRss: { ...memory, peakMB: round2(memory.peakBytes / MB), startMB: round2(memory.startBytes / MB) },
    crudCalls: stats.crud.routes,
  }
  ctx.log(
    `  ${label}: ${count(rows)} rows (${round2(csv.length / MB)} MB) in ${round3(wallMs / 1000)} s (${count(run.rowsPerSec)} rows/s); ` +
      `inserted ${count(run.inserted)}, invalid ${run.invalid}, stored ${count(run.storedUsers)}; ums CPU ${run.umsCpu.cores} core, ` +
      `emulators ${run.peersCpu.cores} core; ums RSS ${run.umsRss.startMB} → peak ${run.umsRss.peakMB} MB`,
  )
  return run
}

const allImported = (run: ImportRun) => run.status === 200 && run.inserted === run.rows && run.invalid === 0 && run.storedUsers === run.rows

function importedText(run: ImportRun): string {
  return allImported(run) ? `${count(run.inserted)} imported` : `${count(run.inserted)} imported, ${run.invalid} invalid, ${count(run.storedUsers)} stored`
}

async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const children: Array<{ stop(): Promise<void> }> = []
  try {
    const peers = await startChild<PeersInfo>({ name: 'peers', entry: 'peers.ts', options: {} satisfies PeersOptions, cpuProfileDir: ctx.cpuProfileDir('peers') })
    children.push(peers)
    const umsProfile = ctx.cpuProfileDir('ums')
    const [ums, umsBig] = await Promise.all([
      startChild<UmsInfo>({ name: 'ums', entry: 'ums.ts', options: { peers: peers.info } satisfies UmsOptions, cpuProfileDir: umsProfile }),
      startChild<UmsInfo>({
        name: 'ums-100k',
        entry: 'ums.ts',
        options: { peers: peers.info, env: { USER_IMPORT_MAX_FILE_SIZE: String(BIG_MAX_FILE_SIZE) } } satisfies UmsOptions,
        cpuProfileDir: umsProfile,
      }),
    ])
    children.push(ums, umsBig)

    const csv = importCsv(ROWS, 'imp')
    const bigCsv = importCsv(BIG_ROWS, 'big')
    ctx.log(`warm-up: ${WARMUP_ROWS} rows through each ums child`)
    for (const [index, child] of [ums, umsBig].entries()) {
      checkAnswer('warm-up', await upload(child.info.url, importCsv(WARMUP_ROWS, `warm${index}`), 30_000), WARMUP_ROWS)
    }

    const small = await measure(ctx, 'default limit', ums, peers, csv, ROWS)
    const big = await measure(ctx, `USER_IMPORT_MAX_FILE_SIZE=${BIG_MAX_FILE_SIZE}`, umsBig, peers, bigCsv, BIG_ROWS)

    const seconds = (run: ImportRun) => round3(run.wallMs / 1000)
    const rows: BarRow[] = [
      {
        check: `${count(ROWS)} rows (${round2(csv.length / MB)} MB)`,
        baseline: ORIGINAL,
        measured: `${seconds(small)} s, ${importedText(small)}`,
        value: seconds(small),
        bar: `≤ ${BAR_S.toFixed(2)} s, all imported`,
        pass: allImported(small) && small.wallMs <= BAR_S * 1000,
      },
      {
        check: `${count(BIG_ROWS)} rows (${round2(bigCsv.length / MB)} MB): time`,
        baseline: '',
        measured: `${seconds(big)} s, ${importedText(big)}`,
        value: seconds(big),
        bar: `≤ ${BIG_BAR_S.toFixed(2)} s, all imported`,
        pass: allImported(big) && big.wallMs <= BIG_BAR_S * 1000,
      },
      {
        check: `${count(BIG_ROWS)} rows: ums peak RSS`,
        baseline: '',
        measured: `${big.umsRss.peakMB} MB (${big.umsRss.startMB} MB before)`,
        value: big.umsRss.peakMB,
        bar: `< ${BIG_RSS_BAR_MB} MB`,
        pass: big.umsRss.peakMB < BIG_RSS_BAR_MB,
      },
    ]
    const notes = [
      `${ORIGINAL} (failures from 300 rows), i.e. ~8 rows/s; ums: ${count(small.rowsPerSec)} rows/s (10,000) and ${count(big.rowsPerSec)} rows/s (100,000)`,
      `busy cores during the imports (ums / emulators): ${small.umsCpu.cores} / ${small.peersCpu.cores} (10,000), ${big.umsCpu.cores} / ${big.peersCpu.cores} (100,000)`,
      `peak RSS is ums's child process (${big.umsRss.method}); 10,000 rows: ${small.umsRss.peakMB} MB`,
    ]
    return {
      rows,
      commands: [
        `${curlCommand(ums.info.url, 'users-10000.csv')}   # bench/data.ts importCsv(${ROWS}, 'imp')`,
        `USER_IMPORT_MAX_FILE_SIZE=${BIG_MAX_FILE_SIZE} ... ${curlCommand(umsBig.info.url, 'users-100000.csv')}   # importCsv(${BIG_ROWS}, 'big')`,
      ],
      notes,
      details: {
        original: ORIGINAL,
        csv: { header: 'userGroup;name;surname;email;username;age;tags', delimiter: ';', warmupRows: WARMUP_ROWS },
        batchSize: 'USER_IMPORT_BATCH_SIZE default (250)',
        runs: { [String(ROWS)]: small, [String(BIG_ROWS)]: { ...big, maxFileSize: BIG_MAX_FILE_SIZE } },
      },
    }
  } finally {
    await Promise.all(children.map((child) => child.stop()))
  }
}

export const importScenario: Scenario = {
  name: 'import',
  description: 'PATCH /users/import of 10,000 and 100,000 CSV rows: wall time and ums peak RSS',
  run,
}
