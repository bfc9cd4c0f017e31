// Events reach a replica at any time from outside its own control flow: Agenda relays the job
// notifications of every other process on the store, and the store's connections report errors
// whenever the server goes away. An exception thrown by a listener lands on the event loop, where
// it would end the process: every listener the jobs layer adds is guarded, so that a failure is
// reported (logged at error level and counted, see reportListenerFailures in index.ts) and the
// replica goes on. Free of the metrics module: the store modules load this one.

/** Where a listener failed: the emitter (agenda, the store's client, its notification channel) and the event. */
export interface ListenerSite {
  source: string
  event: string
}

export type ListenerFailure = (error: unknown, site: ListenerSite) => void

/** Without a reporter of its own (tests of a bare store), a failure still reaches stderr, never the event loop. */
const toStderr: ListenerFailure = (error, site) => console.error(`listener of ${site.source} "${site.event}" failed:`, error)

/** `listener`, never throwing nor rejecting: its failures go to `onFailure`. */
export function guarded<Args extends unknown[]>(site: ListenerSite, listener: (...args: Args) => unknown, onFailure: ListenerFailure = toStderr): (...args: Args) => void {
  const fail = (error: unknown) => {
    try {
      onFailure(error, site)
    } catch {
      // The reporter itself failed: nothing is left to tell, and the process must go on.
    }
  }
  return (...args: Args) => {
    try {
      const result = listener(...args)
      if (result instanceof Promise) result.catch(fail)
    } catch (error) {
      fail(error)
    }
  }
}

/** Adds a guarded listener for `event` on `emitter`. */
export function listen<Args extends unknown[]>(
  emitter: { on(event: string, listener: (...args: Args) => void): unknown },
  source: string,
  event: string,
  listener: (...args: Args) => unknown,
  onFailure?: ListenerFailure,
): void {
  emitter.on(event, guarded({ source, event }, listener, onFailure))
}
