// Waiting as a promise: a timer that an AbortSignal cuts short.

export interface SleepOptions {
  /** The pending timer does not keep the process alive. */
  unref?: boolean
}

/**
 * Resolves after `ms`, or as soon as `signal` aborts; never rejects. A wait of 0 ms or less
 * resolves at once.
 */
export function sleep(ms: number, signal?: AbortSignal, options: SleepOptions = {}): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    if (options.unref) timer.unref()
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done)
  })
}
