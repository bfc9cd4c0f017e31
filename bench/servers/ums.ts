// Child process: ums itself, built from src/app.ts and wired to the peers child's emulators with
// the environment of src/sandbox/stack.ts (`stackEnv`; LOG_LEVEL silent unless overridden).
//
// With `shutdown` (the soak scenario) it also stops on SIGTERM/SIGINT the way src/index.ts does
// (`closeOnSignals` with WAIT_BEFORE_SERVER_CLOSE_SEC), and records at the HTTP level (the Node
// server's `request` event, i.e. the request was read) which requests it received and answered,
// by their `x-soak-seq` header, from the `recordFrom` call on; the record is written to
// `shutdown.recordFile` as the process exits, for the parent to compare with what the client saw.
import { writeFileSync } from 'node:fs'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/index.js'
import { freePort, stackEnv } from '../../src/sandbox/stack.js'
import { closeOnSignals } from '../../src/lifecycle/shutdown.js'
import type { PeersInfo } from './peers.js'
import { childOptions, serve } from './ipc.js'

export interface UmsOptions {
  peers: PeersInfo
  /** Environment overrides (win over the wiring below). */
  env?: Record<string, string>
  /** Graceful shutdown on signals as in src/index.ts, with a record of the requests around it. */
  shutdown?: { recordFile: string }
  /** A `gc` call: a full garbage collection, answering process.memoryUsage() after it (needs `--expose-gc`). */
  gcCall?: boolean
}

export interface UmsInfo {
  url: string
}

/** What the `shutdown` child writes as it exits (times: epoch ms, fractional). */
export interface ShutdownRecord {
  recordFromMs: number | undefined
  signalAtMs: number | undefined
  signal: string | undefined
  /** When `close()` began (after the wait) and when it resolved. */
  closeStartedAtMs: number | undefined
  closedAtMs: number | undefined
  /** `x-soak-seq` of the requests received (headers read) and answered (response flushed) since `recordFrom`. */
  received: number[]
  answered: number[]
  /** Requests received but not answered yet at the signal, at the start of close() and at exit. */
  inFlightAtSignal: number[]
  inFlightAtClose: number[]
  inFlightAtExit: number[]
  /** Requests without an `x-soak-seq` header received since `recordFrom`. */
  unlabelled: number
  exitCode: number
}

const options = childOptions<UmsOptions>()
const now = () => performance.timeOrigin + performance.now()

await serve<UmsInfo>(async () => {
  const port = await freePort()
  const { peers } = options
  const config = await loadConfig({ ...stackEnv(peers, port), ...options.env }, { useProcessEnv: false })
  const app = await buildApp(config)
  const handlers: Record<string, (arg: unknown) => unknown> = {}
  if (options.gcCall) {
    handlers.gc = () => {
      const gc = (globalThis as { gc?: () => void }).gc
      if (!gc) throw new Error('gc is not exposed: start the child with --expose-gc')
      gc()
      return process.memoryUsage()
    }
  }
  if (options.shutdown) {
    const { recordFile } = options.shutdown
    const inFlight = new Set<number>()
    let recording = false
    const record: ShutdownRecord = {
      recordFromMs: undefined,
      signalAtMs: undefined,
      signal: undefined,
      closeStartedAtMs: undefined,
      closedAtMs: undefined,
      received: [],
      answered: [],
      inFlightAtSignal: [],
      inFlightAtClose: [],
      inFlightAtExit: [],
      unlabelled: 0,
      exitCode: -1,
    }
    // A listener of its own next to Fastify's: it sees every request whose head the server has read.
    app.server.on('request', (request, response) => {
      const header = request.headers['x-soak-seq']
      const seq = typeof header === 'string' ? Number(header) : Number.NaN
      if (!Number.isInteger(seq)) {
        if (recording) record.unlabelled += 1
        return
      }
      inFlight.add(seq)
      if (recording) record.received.push(seq)
      response.once('finish', () => {
        inFlight.delete(seq)
        if (recording) record.answered.push(seq)
      })
      response.once('close', () => inFlight.delete(seq))
    })
    handlers.recordFrom = () => {
      recording = true
      record.recordFromMs = now()
      record.received.push(...inFlight)
      return true
    }
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        record.signalAtMs ??= now()
        record.signal ??= signal
        record.inFlightAtSignal = [...inFlight]
      })
    }
    closeOnSignals(app, config.waitBeforeServerCloseMs, async () => {
      record.closeStartedAtMs = now()
      record.inFlightAtClose = [...inFlight]
      await app.close()
      record.closedAtMs = now()
    })
    process.once('exit', (code) => {
      record.inFlightAtExit = [...inFlight]
      record.exitCode = code
      writeFileSync(recordFile, JSON.stringify(record))
    })
  }
  await app.listen({ host: '127.0.0.1', port })
  return {
    info: { url: `http://127.0.0.1:${port}` },
    handlers,
    close: () => app.close(),
  }
})
