// The part of autocannon's programmatic API (v8/v9, CommonJS, no bundled types) the harness uses.
declare module 'autocannon' {
  namespace autocannon {
    interface Options {
      url: string
      connections?: number
      /** Seconds. */
      duration?: number
      method?: string
      headers?: Record<string, string>
      body?: string
      pipelining?: number
      /** Seconds before a request counts as timed out. */
      timeout?: number
    }
    interface Histogram {
      average: number
      mean: number
      stddev: number
      min: number
      max: number
      total: number
      p50: number
      p90: number
      p99: number
    }
    interface Result {
      url: string
      connections: number
      duration: number
      start: Date
      finish: Date
      requests: Histogram & { sent: number }
      latency: Histogram
      throughput: Histogram
      errors: number
      timeouts: number
      non2xx: number
      mismatches: number
    }
  }
  function autocannon(options: autocannon.Options): Promise<autocannon.Result>
  export = autocannon
}
