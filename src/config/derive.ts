// The typed Config, derived once at start-up from the validated environment.
import type { AuthPropertiesConfig } from './auth-properties.js'
import type { RawEnv } from './env-schema.js'
import type { PasswordPolicy } from '../lib/password-policy.js'
import { commaList, parseJobStore, parsePollingInterval, serviceUrl, type JobStoreConfig, type PollingInterval } from './values.js'

export interface PlatformHeaderKeys {
  userId: string
  userProperties: string
  groups: string
  clientType: string
  backoffice: string
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
  groupConfigCacheTtlMs: number
  selfRegistrationRateLimitPerMinute: number
  selfRegistrationMinDurationMs: number
  selfRegistrationPasswordPolicy: PasswordPolicy
  /** Addresses or CIDR ranges whose `x-forwarded-for` is believed; empty: none. */
  trustedProxies: string[]
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
    groupConfigCacheTtlMs: env.GROUP_CONFIG_CACHE_TTL_MS,
    selfRegistrationRateLimitPerMinute: env.SELF_REGISTRATION_RATE_LIMIT_PER_MINUTE,
    selfRegistrationMinDurationMs: env.SELF_REGISTRATION_MIN_DURATION_MS,
    selfRegistrationPasswordPolicy: env.SELF_REGISTRATION_PASSWORD_POLICY,
    trustedProxies: env.TRUSTED_PROXIES === undefined ? [] : commaList(env.TRUSTED_PROXIES),
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
