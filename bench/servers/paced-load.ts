// Child process: open-loop load at a fixed rate on several servers at once, for measuring their CPU
// time per request side by side. Under closed-loop load the rate each server reaches, and so how
// many requests it handles per event-loop turn, follows whatever else the machine runs; here every
// target gets the same evenly spaced stream of requests over the same seconds, so a busy spell of
// the machine weighs on each alike and their CPU times per request compare. Each arrival is one
// request to every target; arrivals are sent on a 2 ms tick (all those due), through one keep-alive
// node:http Agent per target of at most `connections` sockets (the others wait in its queue).
import http from 'node:http'
import { serve } from './ipc.js'

export interface PacedRunArg {
  /** Full URLs (path and query included); each arrival sends one request to each. */
  urls: string[]
  ratePerSec: number
  durationS: number
  connections: number
}

export interface PacedTargetResult {
  url: string
  sent: number
  /** Answered with a 2xx. */
  ok: number
  /** Answered with another status, or failed below HTTP. */
  failed: number
  /** Arrivals not sent because twice `connections` requests were in flight at this target. */
  shed: number
}

export interface PacedRunResult {
  targets: PacedTargetResult[]
  /** From the first arrival to the last answer. */
  durationS: number
}

const TICK_MS = 2

interface Target extends PacedTargetResult {
  agent: http.Agent
  host: string
  port: string
  path: string
  inFlight: number
}

function run(arg: PacedRunArg): Promise<PacedRunResult> {
  const targets: Target[] = arg.urls.map((raw) => {
    const url = new URL(raw)
    return {
      url: raw,
      agent: new http.Agent({ keepAlive: true, maxSockets: arg.connections }),
      host: url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      inFlight: 0,
      sent: 0,
      ok: 0,
      failed: 0,
      shed: 0,
    }
  })
  const total = Math.round(arg.ratePerSec * arg.durationS)
  let arrivals = 0
  const started = performance.now()
  return new Promise((resolve) => {
    const done = () => {
      if (arrivals < total || targets.some((target) => target.inFlight > 0)) return
      clearInterval(timer)
      for (const target of targets) target.agent.destroy()
      resolve({
        targets: targets.map(({ url, sent, ok, failed, shed }) => ({ url, sent, ok, failed, shed })),
        durationS: (performance.now() - started) / 1000,
      })
    }
    const answered = (target: Target) => {
      target.inFlight -= 1
      done()
    }
    const send = (target: Target) => {
      target.sent += 1
      target.inFlight += 1
      const request = http.get({ agent: target.agent, host: target.host, port: target.port, path: target.path }, (response) => {
        if (response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300) target.ok += 1
        else target.failed += 1
        response.resume()
        response.on('end', () => answered(target))
      })
      request.on('error', () => {
        target.failed += 1
        answered(target)
      })
    }
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * arg.ratePerSec))
      for (; arrivals < due; arrivals++) {
        // Which target gets each arrival's request first alternates.
        for (const target of arrivals % 2 === 0 ? targets : [...targets].reverse()) {
          // A backlog beyond twice the connections: this target cannot keep up at this rate.
          if (target.inFlight >= 2 * arg.connections) target.shed += 1
          else send(target)
        }
      }
      done()
    }, TICK_MS)
  })
}

await serve<{ pid: number }>(async () => ({
  info: { pid: process.pid },
  handlers: { run: (arg) => run(arg as PacedRunArg) },
  close: async () => {},
}))
