// Parsers of the variables whose values are more than the schema checks: service URLs, comma
// lists, the polling interval and the job store URL.
import { existsSync } from 'node:fs'
import { ConfigError } from './config-error.js'

export type PollingInterval = { kind: 'interval'; ms: number } | { kind: 'cron'; expression: string }

/** Where jobs are kept: this process's memory, or a store shared by the replicas. */
export type JobStoreConfig =
  | { backend: 'memory' }
  | {
      backend: 'postgres' | 'redis' | 'mongodb'
      url: string
      /** The variable the URL came from, for messages. */
      variable: 'JOBS_STORE_URL' | 'MONGODB_URL'
    }

/** `crud-service` → `http://crud-service`; a full http(s) URL is kept (without trailing slash). */
export function serviceUrl(variable: string, value: string): URL {
  const candidate = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`
  let url: URL
  try {
    url = new URL(candidate)
  } catch {
    throw new ConfigError(`${variable} must be a service name or an http(s) URL, got "${value}"`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${variable} must use http or https, got "${url.protocol}"`)
  }
  if (url.search || url.hash || url.username) {
    throw new ConfigError(`${variable} must not carry a query, fragment or credentials`)
  }
  url.pathname = url.pathname.replace(/\/+$/, '')
  return url
}

export function commaList(value: string | undefined): string[] {
  if (value === undefined) return []
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0)
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  millisecond: 1,
  milliseconds: 1,
  second: 1000,
  seconds: 1000,
  minute: 60_000,
  minutes: 60_000,
  hour: 3_600_000,
  hours: 3_600_000,
}
const CRON_FIELD = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/

/** `120000`, `30 seconds`, `2 minutes` or a 5/6-field cron expression. */
export function parsePollingInterval(value: string): PollingInterval {
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) {
    const ms = Number(trimmed)
    if (ms > 0) return { kind: 'interval', ms }
  }
  const human = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(trimmed)
  if (human) {
    const unit = UNIT_MS[human[2]!.toLowerCase()]
    const amount = Number(human[1])
    if (unit !== undefined && amount > 0) return { kind: 'interval', ms: Math.round(amount * unit) }
  }
  const fields = trimmed.split(/\s+/)
  if ((fields.length === 5 || fields.length === 6) && fields.every((field) => CRON_FIELD.test(field))) {
    return { kind: 'cron', expression: trimmed }
  }
  throw new ConfigError(
    `AUTH0_JOB_POLLING_INTERVAL must be milliseconds, "N seconds|minutes|hours" or a cron expression, got "${value}"`,
  )
}

const STORE_SCHEMES: Record<string, 'postgres' | 'redis' | 'mongodb'> = {
  'mongodb:': 'mongodb',
  'mongodb+srv:': 'mongodb',
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'redis:': 'redis',
  'rediss:': 'redis',
}

/** The hosts of a URL's authority (MongoDB takes a comma list), without the credentials. */
function authorityHosts(url: string): string[] {
  const authority = /^[^:]+:\/\/([^/?#]*)/.exec(url)?.[1] ?? ''
  return authority.slice(authority.lastIndexOf('@') + 1).split(',')
}

/** A port is quoted back only when it is a number: anything else may be a misplaced password. */
function portProblem(variable: string, port: string): ConfigError | undefined {
  if (/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535) return undefined
  return new ConfigError(`${variable} must have a port from 1 to 65535${/^\d+$/.test(port) ? `, got ${port}` : ''}`)
}

/** The port a host names (`h:5432`, `[::1]:5432`), undefined when it names none. */
function portOf(host: string): string | undefined {
  const port = /^(?:\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(host)?.[1]
  return port === undefined || port === '' ? undefined : port
}

const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify']
/** What MongoDB refuses in a database name. */
const MONGO_DATABASE_FORBIDDEN = /[/\\. "$\0]/

/**
 * The parts of a store URL that its driver would otherwise take badly: a port out of range, a
 * Redis database that is no number (ioredis sends `SELECT NaN`, whose refusal crashes the process,
 * or reads `2x` as 2), a PostgreSQL TLS option the driver would read as "use TLS", a MongoDB
 * database name the server refuses. Values are quoted only where they cannot be secrets.
 */
function checkStoreUrl(variable: string, backend: 'postgres' | 'redis' | 'mongodb', scheme: string, url: string): void {
  const hosts = authorityHosts(url)
  for (const host of hosts) {
    const port = portOf(host)
    if (port === undefined) continue
    if (scheme === 'mongodb+srv') throw new ConfigError(`${variable} is a mongodb+srv URL, whose ports come from DNS: remove the port`)
    const problem = portProblem(variable, port)
    if (problem) throw problem
  }
  if (scheme === 'mongodb+srv' && hosts.length > 1) throw new ConfigError(`${variable} is a mongodb+srv URL: name one host, whose DNS records list the servers`)
  if (backend === 'mongodb') {
    const database = /^[^:]+:\/\/[^/?#]*\/([^?#]*)/.exec(url)?.[1] ?? ''
    let name: string
    try {
      name = decodeURIComponent(database)
    } catch {
      throw new ConfigError(`${variable} has a database name that is not valid percent-encoding`)
    }
    if (MONGO_DATABASE_FORBIDDEN.test(name)) throw new ConfigError(`${variable} names the database "${name}": MongoDB database names cannot contain / \\ . " $ or a space`)
    if (Buffer.byteLength(name) >= 64) throw new ConfigError(`${variable} names a database of ${Buffer.byteLength(name)} bytes: MongoDB takes at most 63`)
    return
  }
  const parsed = new URL(url)
  if (backend === 'redis') {
    const database = parsed.pathname.replace(/^\//, '')
    if (database !== '' && !/^\d+$/.test(database)) throw new ConfigError(`${variable} must name the Redis database by its number (redis://host:6379/0), got "${database}"`)
    const queried = parsed.searchParams.get('db')
    if (queried !== null && !/^\d+$/.test(queried)) throw new ConfigError(`${variable} must give db= as a Redis database number, got "${queried}"`)
    return
  }
  const sslmode = parsed.searchParams.get('sslmode')
  if (sslmode !== null && !SSL_MODES.includes(sslmode)) throw new ConfigError(`${variable} has sslmode "${sslmode}": use ${SSL_MODES.join(', ')}`)
  const ssl = parsed.searchParams.get('ssl')
  if (ssl !== null && !['true', 'false', '1', '0'].includes(ssl)) throw new ConfigError(`${variable} has ssl "${ssl}": use true or false`)
  const port = parsed.searchParams.get('port')
  const problem = port === null ? undefined : portProblem(variable, port)
  if (problem) throw problem
  // The driver reads these files when it connects: a wrong path is a mistake of the configuration.
  for (const option of ['sslcert', 'sslkey', 'sslrootcert']) {
    const file = parsed.searchParams.get(option)
    if (file !== null && !existsSync(file)) throw new ConfigError(`${variable} names the ${option} file "${file}", which does not exist`)
  }
}

/**
 * The job store from JOBS_STORE_URL, else MONGODB_URL, else memory. Messages never echo the URL:
 * it may carry a password.
 */
export function parseJobStore(env: { JOBS_STORE_URL?: string | undefined; MONGODB_URL?: string | undefined }): JobStoreConfig {
  const variable = env.JOBS_STORE_URL !== undefined ? 'JOBS_STORE_URL' : env.MONGODB_URL !== undefined ? 'MONGODB_URL' : undefined
  if (variable === undefined) return { backend: 'memory' }
  const url = env[variable]!.trim()
  const scheme = /^([a-z][a-z0-9+.-]*):\/\/[^/?#\s]+/i.exec(url)?.[1]?.toLowerCase()
  const supported = 'mongodb://, mongodb+srv://, postgres://, postgresql://, redis:// or rediss://'
  if (scheme === undefined) throw new ConfigError(`${variable} must be a ${supported} URL`)
  const backend = STORE_SCHEMES[`${scheme}:`]
  if (backend === undefined) throw new ConfigError(`${variable} has an unsupported scheme "${scheme}": use ${supported}`)
  if (variable === 'MONGODB_URL' && backend !== 'mongodb') throw new ConfigError(`MONGODB_URL must be a mongodb:// or mongodb+srv:// URL (use JOBS_STORE_URL for ${scheme})`)
  // MongoDB accepts several comma-separated hosts, which URL cannot parse; the driver checks those.
  if (backend !== 'mongodb') {
    try {
      new URL(url)
    } catch {
      throw new ConfigError(`${variable} is not a valid ${scheme} URL`)
    }
  }
  checkStoreUrl(variable, backend, scheme, url)
  return { backend, url, variable }
}
