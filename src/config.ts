// The one module that reads the environment: the @fastify/env schema of every variable, and the
// typed Config derived from it once at start-up (service URLs, header lists, intervals).
import { readFile } from 'node:fs/promises'
import Fastify from 'fastify'
import fastifyEnv from '@fastify/env'

export const ENV_SCHEMA = {
  type: 'object',
  required: ['AUTH_SERVICE', 'AUTH_CONNECTION', 'USERS_CRUD_ENDPOINT', 'UMS_CONFIG_CRUD_ENDPOINT'],
  properties: {
    HTTP_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 3000, description: 'listening port' },
    LOG_LEVEL: { type: 'string', enum: ['error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', description: 'log level: `error`, `warn`, `info`, `debug`, `trace` or `silent`' },
    WAIT_BEFORE_SERVER_CLOSE_SEC: { type: 'number', minimum: 0, default: 10, description: 'delay between SIGTERM (or SIGINT) and closing the server (requests are served meanwhile; running jobs are handed over at once)' },
    AUTH_MODULE: { type: 'string', minLength: 1, default: 'auth0Client', description: 'auth provider module; an unknown one stops start-up listing the known ones' },
    AUTH_SERVICE: { type: 'string', minLength: 1, examples: ['auth0-client'], description: 'the Auth0 Client service' },
    AUTH_CONNECTION: { type: 'string', minLength: 1, examples: ['Username-Password-Authentication'], description: 'auth connection, e.g. `Username-Password-Authentication`' },
    CRUD_SERVICE: { type: 'string', minLength: 1, default: 'crud-service', description: 'the CRUD Service' },
    USERS_CRUD_ENDPOINT: { type: 'string', pattern: '^/', examples: ['/users'], description: 'users collection path, e.g. `/users`' },
    UMS_CONFIG_CRUD_ENDPOINT: { type: 'string', pattern: '^/', examples: ['/ums-config'], description: 'group configuration collection path, e.g. `/ums-config`' },
    ROLES_CRUD_ENDPOINT: { type: 'string', pattern: '^/', examples: ['/roles'], description: 'roles collection path (permissions in `/userinfo`)' },
    BINDINGS_CRUD_ENDPOINT: { type: 'string', pattern: '^/', examples: ['/bindings'], description: 'the CRUD path of the bindings collection Rönd writes (its `BINDINGS_CRUD_SERVICE_URL`): with `ROND_ENABLED`, reconciliation compares each user\'s bindings with its `roles`' },
    ROND_ENABLED: { type: 'boolean', default: false, description: 'grant/revoke roles through Rönd' },
    ROND_SERVICE: { type: 'string', minLength: 1, default: 'rond-service', description: 'the Rönd service' },
    TIMER_SERVICE: { type: 'string', minLength: 1, examples: ['timer-service'], description: 'Timer Service; without it `expirationDate` is stored but nothing is scheduled' },
    TIMER_SERVICE_HEADERS: { type: 'string', default: '', examples: ['client-type,secret'], description: 'comma list of incoming header names replayed on the expiry callback' },
    UMS_SERVICE: { type: 'string', minLength: 1, default: 'user-manager-service', description: 'how the Timer Service reaches this service for the expiry callback' },
    UPSTREAM_TIMEOUT_MS: { type: 'integer', minimum: 1, default: 10000, description: 'timeout of every call to a peer' },
    RANDOM_PWD_GEN: { type: 'boolean', default: true, description: 'generate passwords' },
    RANDOM_PWD_LENGTH: { type: 'integer', minimum: 8, maximum: 128, default: 8, description: 'length of generated passwords (8–128)' },
    AUTH_HARD_DELETE: { type: 'boolean', default: true, description: 'delete the auth user on delete/DELETED; `false` blocks it' },
    CUSTOM_USER_ID_KEY: { type: 'string', minLength: 1, default: 'sub', description: 'key of the user id in the auth `/userinfo` answer' },
    USERINFO_ADDITIONAL_PROPERTIES: { type: 'string', examples: ['name,surname,permissions'], description: 'CRUD properties added to `/userinfo`: unset = all, empty = none, else a comma list (`permissions` adds the roles\' permissions)' },
    CONFIGURATION_PATH: { type: 'string', minLength: 1, examples: ['/home/node/app/config/auth-properties.json'], description: 'JSON file `{"user_id": string, "additionalProperties": string[]}`: auth properties merged into `GET /users/`' },
    USER_IMPORT_BATCH_SIZE: { type: 'integer', minimum: 1, maximum: 10000, default: 250, description: 'rows per CRUD bulk call in the CSV import' },
    USER_IMPORT_MAX_FILE_SIZE: { type: 'integer', minimum: 1, default: 1048576, description: 'CSV upload limit in bytes (413 above it)' },
    AUTH0_JOB_POLLING_INTERVAL: { type: 'string', minLength: 1, default: '2 minutes', description: 'poll period of activation jobs: ms, `N seconds|minutes|hours`, or cron' },
    AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: { type: 'number', exclusiveMinimum: 0, default: 2, description: 'pace of the change-password job' },
    BULK_MAX_USERS: { type: 'integer', minimum: 1, default: 10000, description: 'users per bulk-activation or change-password request' },
    JOBS_TTL_MS: { type: 'integer', minimum: 1, default: 86400000, description: 'finished jobs are kept this long (in the job store too)' },
    JOBS_STORE_URL: { type: 'string', minLength: 1, examples: ['postgres://ums:secret@postgres:5432/ums'], description: 'the job store shared by the replicas: `postgres://`/`postgresql://`, `redis://`/`rediss://`, `mongodb://`/`mongodb+srv://`; unset (and no `MONGODB_URL`): jobs in memory' },
    MONGODB_URL: { type: 'string', minLength: 1, examples: ['mongodb://mongo:27017/ums'], description: 'the original\'s name for a MongoDB job store, used when `JOBS_STORE_URL` is unset (in Mia projects, the CRUD Service\'s database)' },
    JOBS_COLLECTION_NAME: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,39}$', default: 'userManagerJobs', description: 'the job store\'s collection, table or key prefix (letters, digits, `_`; at most 40)' },
    RECONCILE_RECENT_WINDOW_MS: { type: 'integer', minimum: 0, default: 300000, description: 'reconciliation leaves alone a user changed (or an auth user created) this recently: it may be an operation under way; 0 when nothing else writes' },
    JOBS_LOCK_LIFETIME_MS: { type: 'integer', minimum: 1000, default: 60000, description: 'a replica\'s lock on a job lasts this long unless renewed (it is renewed every quarter of it): a crashed replica\'s jobs are taken over after it' },
    USERID_HEADER_KEY: { type: 'string', minLength: 1, default: 'miauserid', description: 'name of the header with the caller\'s user id' },
    USER_PROPERTIES_HEADER_KEY: { type: 'string', minLength: 1, default: 'miauserproperties', description: 'name of the header with the caller\'s properties (JSON)' },
    GROUPS_HEADER_KEY: { type: 'string', minLength: 1, default: 'miausergroups', description: 'name of the header with the caller\'s groups' },
    CLIENTTYPE_HEADER_KEY: { type: 'string', minLength: 1, default: 'client-type', description: 'name of the header with the client type' },
    BACKOFFICE_HEADER_KEY: { type: 'string', minLength: 1, default: 'isbackoffice', description: 'name of the backoffice flag header' },
    MICROSERVICE_GATEWAY_SERVICE_NAME: { type: 'string', minLength: 1, default: 'microservice-gateway', description: 'host name of the microservice gateway' },
    ADDITIONAL_HEADERS_TO_PROXY: { type: 'string', default: '', examples: ['cookie,authorization,client-type'], description: 'comma list of extra incoming headers forwarded to every peer (any case)' },
    SERVICE_PREFIX: {
      type: 'string',
      pattern: '^/$|^(/[a-z0-9-]+)+/?$',
      default: '/',
      description: "prefix of the service's routes: `/` or lowercase `a-z0-9-` segments; the status routes and the documentation are never prefixed",
    },
    EXPOSE_METRICS: { type: 'boolean', default: true, description: 'serve Prometheus metrics at `/-/metrics`' },
    EXPOSE_DOCUMENTATION: { type: 'boolean', default: true, description: 'serve the OpenAPI document and Swagger UI under `/documentation`' },
    ENABLE_TRACING: { type: 'boolean', default: false, description: 'OpenTelemetry tracing of requests and peer calls, configured by the `OTEL_*` variables' },
    OTEL_SERVICE_NAME: { type: 'string', minLength: 1, description: 'with `ENABLE_TRACING`: the service name of the spans (default `ums`)' },
    OTEL_RESOURCE_ATTRIBUTES: { type: 'string', examples: ['deployment.environment=production'], description: 'with `ENABLE_TRACING`: extra attributes of every span\'s resource, a comma list of `key=value`' },
    OTEL_TRACES_EXPORTER: { type: 'string', pattern: '^(otlp|zipkin|console|none)(,(otlp|zipkin|console|none))*$', default: 'otlp', description: 'with `ENABLE_TRACING`: where spans go, a comma list of `otlp`, `zipkin`, `console`; `none` sends them nowhere' },
    OTEL_EXPORTER_OTLP_ENDPOINT: { type: 'string', minLength: 1, examples: ['http://otel-collector:4318'], description: 'with `ENABLE_TRACING`: base URL of the OTLP collector (default `http://localhost:4318`, port 4317 with `grpc`)' },
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: { type: 'string', minLength: 1, examples: ['http://otel-collector:4318/v1/traces'], description: 'with `ENABLE_TRACING`: full URL of the OTLP traces endpoint, taken as is; wins over `OTEL_EXPORTER_OTLP_ENDPOINT`' },
    OTEL_EXPORTER_OTLP_PROTOCOL: { type: 'string', enum: ['http/protobuf', 'http/json', 'grpc'], default: 'http/protobuf', description: 'with `ENABLE_TRACING`: OTLP transport: `http/protobuf`, `http/json` or `grpc`' },
    OTEL_EXPORTER_OTLP_HEADERS: { type: 'string', examples: ['authorization=Bearer <token>'], description: 'with `ENABLE_TRACING`: headers of the calls to the collector, a comma list of `key=value` (may hold credentials)' },
    OTEL_PROPAGATORS: { type: 'string', pattern: '^(tracecontext|baggage|b3|b3multi|jaeger|none)(,(tracecontext|baggage|b3|b3multi|jaeger|none))*$', default: 'tracecontext,baggage', description: 'with `ENABLE_TRACING`: trace context formats read from requests and written on peer calls (with tracing off, `traceparent` and `tracestate` are forwarded as received)' },
    OTEL_TRACES_SAMPLER: { type: 'string', enum: ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'], default: 'parentbased_always_on', description: 'with `ENABLE_TRACING`: which traces are recorded; `parentbased_*` follow the caller\'s decision' },
    OTEL_TRACES_SAMPLER_ARG: { type: 'number', minimum: 0, maximum: 1, description: 'with `ENABLE_TRACING`: the ratio of the `traceidratio` samplers (default 1)' },
    OTEL_EXPORTER_OTLP_TIMEOUT: { type: 'integer', minimum: 0, default: 10000, description: 'with `ENABLE_TRACING`: milliseconds one export to the collector may take, retries included; at shutdown the last spans wait this long at most' },
  },
} as const

type Schema = typeof ENV_SCHEMA
type Props = Schema['properties']
type JsonType<P> = P extends { type: 'integer' | 'number' } ? number : P extends { type: 'boolean' } ? boolean : string
type WithDefault = { [K in keyof Props]: Props[K] extends { default: unknown } ? K : never }[keyof Props]
type Required = Schema['required'][number]

/** The environment as validated by the schema: defaults applied, strings coerced. */
export type RawEnv = { [K in WithDefault | Required]: JsonType<Props[K]> } & {
  [K in Exclude<keyof Props, WithDefault | Required>]?: JsonType<Props[K]>
}

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

export interface PlatformHeaderKeys {
  userId: string
  userProperties: string
  groups: string
  clientType: string
  backoffice: string
}

export interface AuthPropertiesConfig {
  /** CRUD field holding the auth user id (the file's `user_id`), normally `authUserId`. */
  userIdField: string
  /** Auth profile properties copied onto each listed user. */
  properties: string[]
}

export interface Config {
  httpPort: number
  logLevel: string
  authModule: string
  authConnection: string
  services: { crud: URL; auth: URL; rond: URL; timer: URL | undefined; ums: URL }
  endpoints: { users: string; umsConfig: string; roles: string | undefined; bindings: string | undefined }
  rondEnabled: boolean
  timerServiceHeaders: string[]
  randomPasswordGeneration: boolean
  randomPasswordLength: number
  authHardDelete: boolean
  customUserIdKey: string
  /** undefined = every CRUD property, [] = none, else the listed ones. */
  userinfoAdditionalProperties: string[] | undefined
  /** From the CONFIGURATION_PATH file: auth properties merged into `GET /users/` results. */
  authProperties: AuthPropertiesConfig | undefined
  userImportBatchSize: number
  userImportMaxFileSize: number
  auth0JobPollingInterval: PollingInterval
  changePasswordRatePerSecond: number
  bulkMaxUsers: number
  jobsTtlMs: number
  reconcileRecentWindowMs: number
  jobStore: JobStoreConfig
  /** The collection, table or key prefix of the job store. */
  jobsCollectionName: string
  /** How long a replica's lock on a job lasts without being renewed. */
  jobsLockLifetimeMs: number
  upstreamTimeoutMs: number
  waitBeforeServerCloseMs: number
  headerKeys: PlatformHeaderKeys
  gatewayServiceName: string
  /** Lower-cased: Node lower-cases incoming header names, so matching is case-insensitive. */
  additionalHeadersToProxy: string[]
  /** The service routes' prefix without a trailing slash: `''` for `/`, else e.g. `/ums`. */
  servicePrefix: string
  exposeMetrics: boolean
  exposeDocumentation: boolean
  enableTracing: boolean
}

export class ConfigError extends Error {
  override name = 'ConfigError'
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

function commaList(value: string | undefined): string[] {
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

export function deriveConfig(env: RawEnv): Config {
  return {
    httpPort: env.HTTP_PORT,
    logLevel: env.LOG_LEVEL,
    authModule: env.AUTH_MODULE,
    authConnection: env.AUTH_CONNECTION,
    services: {
      crud: serviceUrl('CRUD_SERVICE', env.CRUD_SERVICE),
      auth: serviceUrl('AUTH_SERVICE', env.AUTH_SERVICE),
      rond: serviceUrl('ROND_SERVICE', env.ROND_SERVICE),
      timer: env.TIMER_SERVICE === undefined ? undefined : serviceUrl('TIMER_SERVICE', env.TIMER_SERVICE),
      ums: serviceUrl('UMS_SERVICE', env.UMS_SERVICE),
    },
    endpoints: {
      users: env.USERS_CRUD_ENDPOINT.replace(/\/+$/, ''),
      umsConfig: env.UMS_CONFIG_CRUD_ENDPOINT.replace(/\/+$/, ''),
      roles: env.ROLES_CRUD_ENDPOINT?.replace(/\/+$/, ''),
      bindings: env.BINDINGS_CRUD_ENDPOINT?.replace(/\/+$/, ''),
    },
    rondEnabled: env.ROND_ENABLED,
    timerServiceHeaders: commaList(env.TIMER_SERVICE_HEADERS).map((name) => name.toLowerCase()),
    randomPasswordGeneration: env.RANDOM_PWD_GEN,
    randomPasswordLength: env.RANDOM_PWD_LENGTH,
    authHardDelete: env.AUTH_HARD_DELETE,
    customUserIdKey: env.CUSTOM_USER_ID_KEY,
    userinfoAdditionalProperties:
      env.USERINFO_ADDITIONAL_PROPERTIES === undefined ? undefined : commaList(env.USERINFO_ADDITIONAL_PROPERTIES),
    authProperties: undefined,
    userImportBatchSize: env.USER_IMPORT_BATCH_SIZE,
    userImportMaxFileSize: env.USER_IMPORT_MAX_FILE_SIZE,
    auth0JobPollingInterval: parsePollingInterval(env.AUTH0_JOB_POLLING_INTERVAL),
    changePasswordRatePerSecond: env.AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND,
    bulkMaxUsers: env.BULK_MAX_USERS,
    jobsTtlMs: env.JOBS_TTL_MS,
    reconcileRecentWindowMs: env.RECONCILE_RECENT_WINDOW_MS,
    jobStore: parseJobStore(env),
    jobsCollectionName: env.JOBS_COLLECTION_NAME,
    jobsLockLifetimeMs: env.JOBS_LOCK_LIFETIME_MS,
    upstreamTimeoutMs: env.UPSTREAM_TIMEOUT_MS,
    waitBeforeServerCloseMs: env.WAIT_BEFORE_SERVER_CLOSE_SEC * 1000,
    headerKeys: {
      userId: env.USERID_HEADER_KEY.toLowerCase(),
      userProperties: env.USER_PROPERTIES_HEADER_KEY.toLowerCase(),
      groups: env.GROUPS_HEADER_KEY.toLowerCase(),
      clientType: env.CLIENTTYPE_HEADER_KEY.toLowerCase(),
      backoffice: env.BACKOFFICE_HEADER_KEY.toLowerCase(),
    },
    gatewayServiceName: env.MICROSERVICE_GATEWAY_SERVICE_NAME,
    additionalHeadersToProxy: commaList(env.ADDITIONAL_HEADERS_TO_PROXY).map((name) => name.toLowerCase()),
    servicePrefix: env.SERVICE_PREFIX.replace(/\/+$/, ''),
    exposeMetrics: env.EXPOSE_METRICS,
    exposeDocumentation: env.EXPOSE_DOCUMENTATION,
    enableTracing: env.ENABLE_TRACING,
  }
}

/** Reads and checks the CONFIGURATION_PATH file `{"user_id": string, "additionalProperties": string[]}`. */
export async function readAuthProperties(path: string): Promise<AuthPropertiesConfig> {
  let parsed: unknown
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'))
  } catch (error) {
    throw new ConfigError(`CONFIGURATION_PATH ${path} is not a readable JSON file: ${(error as Error).message.split('\n')[0]}`)
  }
  const file = (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed : {}) as {
    user_id?: unknown
    additionalProperties?: unknown
  }
  const properties = file.additionalProperties
  if (
    typeof file.user_id !== 'string' ||
    file.user_id === '' ||
    !Array.isArray(properties) ||
    !properties.every((property) => typeof property === 'string' && property !== '')
  ) {
    throw new ConfigError(`CONFIGURATION_PATH ${path} must hold {"user_id": string, "additionalProperties": string[]}`)
  }
  return { userIdField: file.user_id, properties: properties as string[] }
}

/** One ajv error of @fastify/env (its `errors` list). */
interface EnvProblem {
  instancePath: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

type PropertySchema = { type: string; minimum?: number; maximum?: number; exclusiveMinimum?: number; enum?: readonly string[] }

/**
 * What a patterned variable accepts, in words: a regular expression is no help to the operator
 * reading the start-up error. Only for values that are no secret, since the value is quoted.
 */
const PATTERN_RULES: Record<string, string> = {
  SERVICE_PREFIX: '/ or lowercase a-z0-9- path segments such as /ums or /v1/users',
}

/** What a numeric variable accepts: `an integer from 0 to 65535`, `a number greater than 0`. */
function numberRange(property: PropertySchema): string {
  const noun = property.type === 'integer' ? 'an integer' : 'a number'
  const { minimum, maximum, exclusiveMinimum } = property
  if (minimum !== undefined && maximum !== undefined) return `${noun} from ${minimum} to ${maximum}`
  if (minimum !== undefined) return `${noun} of at least ${minimum}`
  if (exclusiveMinimum !== undefined) return `${noun} greater than ${exclusiveMinimum}`
  return noun
}

/**
 * One phrase per invalid variable, its name first (ajv says `env/HTTP_PORT must be integer`). The
 * received value is quoted only for numbers, booleans and closed lists, which cannot be secrets.
 */
function describeEnvProblem(problem: EnvProblem, received: (variable: string) => string | undefined): string {
  const variable = problem.instancePath.replace(/^\//, '')
  const property = (ENV_SCHEMA.properties as Record<string, PropertySchema | undefined>)[variable]
  if (variable === '' || property === undefined) return `env ${problem.message ?? 'is invalid'}`
  const got = `, got ${JSON.stringify(received(variable) ?? '')}`
  if (property.type === 'integer' || property.type === 'number') return `${variable} must be ${numberRange(property)}${got}`
  if (property.type === 'boolean') return `${variable} must be true or false${got}`
  if (property.enum !== undefined) return `${variable} must be one of ${property.enum.join(', ')}${got}`
  const rule = PATTERN_RULES[variable]
  if (problem.keyword === 'pattern' && rule !== undefined) return `${variable} must be ${rule}${got}`
  return `${variable} ${problem.message ?? 'is invalid'}`
}

export interface LoadConfigOptions {
  /** Merge process.env under `env` (default true); tests pass false for isolation. */
  useProcessEnv?: boolean
  /** Read `.env` from the working directory (default false). */
  dotenv?: boolean
}

/**
 * Validates `env` through @fastify/env (ajv with coercion and defaults) and derives the Config.
 * Throws ConfigError whose message is one line naming the offending variable(s).
 */
export async function loadConfig(
  env: Record<string, string | undefined> = {},
  options: LoadConfigOptions = {},
): Promise<Config> {
  const loader = Fastify({ logger: false })
  const data = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined))
  try {
    await loader.register(fastifyEnv, {
      schema: structuredClone(ENV_SCHEMA) as unknown as Record<string, unknown>,
      data,
      env: options.useProcessEnv ?? true,
      dotenv: options.dotenv ?? false,
    })
    await loader.ready()
  } catch (error) {
    const problems = (error as { errors?: EnvProblem[] }).errors
    const received = (variable: string) => data[variable] ?? (options.useProcessEnv === false ? undefined : process.env[variable])
    const message = Array.isArray(problems)
      ? [...new Set(problems.map((problem) => describeEnvProblem(problem, received)))].join('; ')
      : error instanceof Error
        ? error.message
        : String(error)
    throw new ConfigError(`invalid configuration: ${message.replace(/\s+/g, ' ')}`)
  } finally {
    await loader.close()
  }
  const raw = (loader as unknown as { config: RawEnv }).config
  try {
    const config = deriveConfig(raw)
    if (raw.CONFIGURATION_PATH !== undefined) config.authProperties = await readAuthProperties(raw.CONFIGURATION_PATH)
    return config
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`invalid configuration: ${error.message}`)
    throw error
  }
}
