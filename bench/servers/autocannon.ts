// Child process: the load generator. autocannon runs here, on an event loop of its own (never a
// measured server's), and stays up between runs so each run costs no start-up.
import autocannon from 'autocannon'
import type { LoadOptions } from '../load.js'
import { serve } from './ipc.js'

await serve<{ pid: number }>(async () => ({
  info: { pid: process.pid },
  handlers: {
    run: async (arg) => {
      const options = arg as LoadOptions
      const result = await autocannon({
        url: options.url,
        connections: options.connections,
        duration: options.durationS,
        ...(options.headers ? { headers: options.headers } : {}),
      })
      return {
        requests: result.requests,
        latency: result.latency,
        throughput: result.throughput,
        duration: result.duration,
        errors: result.errors,
        timeouts: result.timeouts,
        non2xx: result.non2xx,
      }
    },
  },
  close: async () => {},
}))
