// Parsers of the variables whose values are more than the schema checks: service URLs, comma
// lists, the polling interval and the job store URL.
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
  return { backend, url, variable }
}
