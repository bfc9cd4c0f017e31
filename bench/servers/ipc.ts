// The child side of the benchmark's process protocol: every server the benchmarks measure runs in
// its own process (forked by bench/children.ts), announces itself with `ready`, answers `call`s
// (named handlers, e.g. seeding, plus the built-in `cpu` sample) and exits on `stop` or when the
// parent goes away, so no server outlives a run.

export interface CpuSample {
  /** process.cpuUsage() of the child, microseconds. */
  userUs: number
  systemUs: number
  rssBytes: number
}

export type ToChild = { type: 'stop' } | { type: 'call'; id: number; method: string; arg?: unknown }

export type FromChild =
  | { type: 'ready'; info: unknown }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: string }
  | { type: 'fatal'; error: string }

export type Handlers = Record<string, (arg: unknown) => unknown>

export interface Started<Info> {
  info: Info
  handlers?: Handlers
  close(): Promise<void>
}

/** The JSON options the parent passed as the first argument. */
export function childOptions<T>(): T {
  const raw = process.argv[2]
  return (raw === undefined ? {} : JSON.parse(raw)) as T
}

function send(message: FromChild): void {
  process.send?.(message)
}

function errorText(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error)
}

/** Starts the server, reports `ready`, then serves calls until `stop` (or the parent's exit). */
export async function serve<Info>(start: () => Promise<Started<Info>>): Promise<void> {
  if (!process.send) throw new Error('bench servers run as forked children (bench/children.ts)')
  let started: Started<Info>
  try {
    started = await start()
  } catch (error) {
    send({ type: 'fatal', error: errorText(error) })
    process.exit(1)
  }

  const handlers: Handlers = {
    cpu: (): CpuSample => {
      const { user, system } = process.cpuUsage()
      return { userUs: user, systemUs: system, rssBytes: process.memoryUsage.rss() }
    },
    ...started.handlers,
  }

  let stopping = false
  const stop = (code: number) => {
    if (stopping) return
    stopping = true
    // Bounded: a server that does not close in time is left behind by exiting anyway.
    const force = setTimeout(() => process.exit(code), 5_000)
    force.unref()
    started
      .close()
      .catch((error: unknown) => console.error(errorText(error)))
      // process.exit (not a signal) so that --cpu-prof writes its profile.
      .finally(() => process.exit(code))
  }

  process.on('message', (message: ToChild) => {
    if (message.type === 'stop') return stop(0)
    if (message.type !== 'call') return
    const handler = handlers[message.method]
    if (!handler) {
      send({ type: 'result', id: message.id, ok: false, error: `no handler ${message.method}` })
      return
    }
    Promise.resolve()
      .then(() => handler(message.arg))
      .then(
        (value) => send({ type: 'result', id: message.id, ok: true, value }),
        (error: unknown) => send({ type: 'result', id: message.id, ok: false, error: errorText(error) }),
      )
  })
  // The parent died or closed the channel: nobody will stop us, so stop now.
  process.on('disconnect', () => stop(0))
  send({ type: 'ready', info: started.info })
}
