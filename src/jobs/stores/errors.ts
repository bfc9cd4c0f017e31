// The one-line error of a store that cannot be reached: the backend, the host and port of its URL
// and the driver's reason, never the URL's credentials.

/** Where the URL points, and its credentials, which messages must never show. */
function endpoint(url: string, defaultPort: number): { host: string; user: string; password: string } {
  try {
    const parsed = new URL(url)
    // An SRV name (mongodb+srv) stands for hosts whose ports come from DNS.
    const host = parsed.port || parsed.protocol === 'mongodb+srv:' ? parsed.host : `${parsed.hostname || 'localhost'}:${defaultPort}`
    return { host, user: safeDecode(parsed.username), password: safeDecode(parsed.password) }
  } catch {
    // Forms that are no WHATWG URL (a seed list `h1:1,h2:2`, a socket directory instead of a
    // host) get their authority cut out by hand.
    const [, userinfo = '', host = ''] = /^[^:]*:\/\/(?:([^@/?#]*)@)?([^/?#]*)/.exec(url) ?? []
    const [user = '', password = ''] = userinfo.split(':').map(safeDecode)
    return { host: host || `localhost:${defaultPort}`, user, password }
  }
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

export function storeUnreachable(backendName: string, url: string, defaultPort: number, error: unknown): Error {
  const { host, user, password } = endpoint(url, defaultPort)
  let reason = describe(error)
  if (password !== '') reason = reason.replaceAll(password, '***')
  // Servers quote the user name they refuse (role "x" does not exist); unquoted, it could be part
  // of a word of the reason.
  if (user !== '') reason = reason.replaceAll(`"${user}"`, '"***"').replaceAll(`'${user}'`, "'***'")
  return new Error(`${backendName} job store unreachable at ${host}: ${reason}`)
}
