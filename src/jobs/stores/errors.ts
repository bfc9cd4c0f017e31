// What messages say about a store: its backend and where it is, and its one-line errors,
// unreachable (the backend, the host and port of its URL and the driver's reason) or refused by its
// driver. Passwords and other secrets of the URL never show; user names do, since the server's
// refusal of one ("role "x" does not exist") is the reason.

/** Each durable backend's name in messages and the port its URL defaults to. */
export const STORE_BACKENDS = {
  postgres: { name: 'PostgreSQL', defaultPort: 5432 },
  redis: { name: 'Redis', defaultPort: 6379 },
  mongodb: { name: 'MongoDB', defaultPort: 27017 },
} as const

export type DurableBackend = keyof typeof STORE_BACKENDS

/** Where the URL points, and its secrets, which messages must never show. */
function endpoint(url: string, defaultPort: number): { host: string; secrets: string[] } {
  try {
    const parsed = new URL(url)
    // An SRV name (mongodb+srv) stands for hosts whose ports come from DNS.
    const host = parsed.port || parsed.protocol === 'mongodb+srv:' ? parsed.host : `${parsed.hostname || 'localhost'}:${defaultPort}`
    return { host, secrets: [safeDecode(parsed.password), ...secretParameters(parsed.searchParams)] }
  } catch {
    // Forms that are no WHATWG URL (a seed list `h1:1,h2:2`, a socket directory instead of a
    // host) get their authority cut out by hand.
    const [, userinfo = '', host = ''] = /^[^:]*:\/\/(?:([^@/?#]*)@)?([^/?#]*)/.exec(url) ?? []
    const password = safeDecode(userinfo.split(':').slice(1).join(':'))
    const query = /\?([^#]*)/.exec(url)?.[1] ?? ''
    return { host: host || `localhost:${defaultPort}`, secrets: [password, ...secretParameters(new URLSearchParams(query))] }
  }
}

/** Query options that carry a secret: `password=`, `sslpassword=`, `tlsCertificateKeyFilePassword=`, tokens. */
function secretParameters(parameters: URLSearchParams): string[] {
  return [...parameters].filter(([name]) => /pass|secret|token/i.test(name)).map(([, value]) => value)
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** The driver's reason on one line (a refused dual-stack connect is an AggregateError without a message). */
function describe(error: unknown): string {
  let reason: string
  if (error instanceof AggregateError && error.message === '') reason = [...new Set(error.errors.map(describe))].join('; ')
  else if (error instanceof Error) reason = error.message || String((error as { code?: unknown }).code ?? error.name)
  else reason = String(error)
  return reason.replace(/\s+/g, ' ').trim()
}

/** The driver's reason with the URL's secrets masked. */
function redacted(url: string, defaultPort: number, error: unknown): string {
  let reason = describe(error)
  for (const secret of endpoint(url, defaultPort).secrets) if (secret !== '') reason = reason.replaceAll(secret, '***')
  return reason
}

/** Where a store's URL points (`host:port`), for messages. */
export function storeHost(url: string, defaultPort: number): string {
  return endpoint(url, defaultPort).host
}

export function storeUnreachable(backendName: string, url: string, defaultPort: number, error: unknown): Error {
  return new Error(`${backendName} job store unreachable at ${storeHost(url, defaultPort)}: ${redacted(url, defaultPort, error)}`)
}

/** The URL the driver refused to even open: a mistake of the configuration, not an outage. */
export class StoreUrlRefused extends Error {
  override name = 'StoreUrlRefused'
}

/** `is refused by the MongoDB driver: <reason>`, to follow the variable's name. */
export function storeUrlRefused(backendName: string, url: string, defaultPort: number, error: unknown): StoreUrlRefused {
  return new StoreUrlRefused(`is refused by the ${backendName} driver: ${redacted(url, defaultPort, error)}`)
}

/** `PostgreSQL at db:5432, store userManagerJobs`: which store, never its credentials. */
export function describeStore(backend: DurableBackend, url: string, name: string): string {
  const { name: backendName, defaultPort } = STORE_BACKENDS[backend]
  return `${backendName} at ${storeHost(url, defaultPort)}, store ${name}`
}
