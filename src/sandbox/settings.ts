// What `npm run sandbox` takes from the environment: every configuration variable except those
// wiring ums to the emulators, the sandbox's own defaults where they differ from the
// configuration table, the listening address (HOST) and the emulator ports (next to HTTP_PORT).
import { ENV_SCHEMA } from '../config/index.js'

/** Set by the sandbox itself: the emulators' addresses, collections and auth connection. */
export const WIRED_VARIABLES = [
  'AUTH_SERVICE',
  'AUTH_CONNECTION',
  'CRUD_SERVICE',
  'USERS_CRUD_ENDPOINT',
  'UMS_CONFIG_CRUD_ENDPOINT',
  'ROLES_CRUD_ENDPOINT',
  'BINDINGS_CRUD_ENDPOINT',
  'ROND_SERVICE',
  'TIMER_SERVICE',
  'UMS_SERVICE',
] as const

/**
 * The sandbox's values, over the stack's wiring for tests (silent logs, short timeouts) and where
 * the configuration table's default does not suit trying ums by hand: request lines shown, the
 * demo user's profile in `/userinfo`, activation jobs polled fast enough to wait for, Ctrl-C
 * without the production wait.
 */
export const SANDBOX_DEFAULTS: Record<string, string> = {
  LOG_LEVEL: 'info',
  USERINFO_ADDITIONAL_PROPERTIES: 'name,surname,roles,userGroup,permissions',
  AUTH0_JOB_POLLING_INTERVAL: '2 seconds',
  UPSTREAM_TIMEOUT_MS: '10000',
  WAIT_BEFORE_SERVER_CLOSE_SEC: '0',
}

const DEFAULT_PORT = 3000
/** Loopback only unless HOST says otherwise: the admin API has no authentication of its own. */
export const DEFAULT_HOST = '127.0.0.1'
/** The emulators take the four ports after HTTP_PORT. */
const MAX_PORT = 65535 - 4

export interface SandboxSettings {
  host: string
  port: number
  emulatorPorts: { crud: number; auth: number; rond: number; timer: number }
  /** The ums variables given to the stack (its own wiring fills in the rest). */
  env: Record<string, string>
  /** Wired variables found in the environment, which the sandbox does not use. */
  ignored: string[]
}

export function sandboxSettings(environment: Record<string, string | undefined>): SandboxSettings {
  const rawPort = environment.HTTP_PORT ?? String(DEFAULT_PORT)
  const port = Number(rawPort)
  if (!/^\d+$/.test(rawPort) || port < 1 || port > MAX_PORT) {
    throw new Error(`HTTP_PORT must be a port from 1 to ${MAX_PORT} in the sandbox (the emulators take the next four), got "${rawPort}"`)
  }
  const wired = new Set<string>(WIRED_VARIABLES)
  const env: Record<string, string> = { ...SANDBOX_DEFAULTS }
  const ignored: string[] = []
  for (const name of Object.keys(ENV_SCHEMA.properties)) {
    const value = environment[name]
    // HTTP_PORT reaches ums as the stack's port.
    if (value === undefined || name === 'HTTP_PORT') continue
    if (wired.has(name)) ignored.push(name)
    else env[name] = value
  }
  return {
    host: environment.HOST || DEFAULT_HOST,
    port,
    emulatorPorts: { crud: port + 1, auth: port + 2, rond: port + 3, timer: port + 4 },
    env,
    ignored,
  }
}
