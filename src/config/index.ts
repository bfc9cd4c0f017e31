// The one place that reads the environment: the env schema of every variable, and the typed Config
// derived from it once at start-up (service URLs, header lists, intervals).
export { ConfigError } from './config-error.js'
export { ENV_SCHEMA } from './env-schema.js'
export { parsePollingInterval, serviceUrl, type PollingInterval } from './values.js'
export type { Config, PlatformHeaderKeys } from './derive.js'
export { loadConfig } from './load.js'
