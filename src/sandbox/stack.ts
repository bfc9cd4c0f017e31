// Starts ums wired to the four emulators on loopback: used by `npm run sandbox`, the
// integration tests and the benchmarks, so all three run the same wiring.
import { createServer } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { DestinationStream } from 'pino'
import { loadConfig, type Config } from '../config/index.js'
import { buildApp, type BuildOptions } from '../app.js'
import { CrudEmulator } from './crud-emulator.js'
import { Auth0ClientEmulator, type Auth0EmulatorOptions } from './auth0-emulator.js'
import { RondEmulator, type BindingsMirror } from './rond-emulator.js'
import { TimerEmulator } from './timer-emulator.js'
import {
  AUTH_CONNECTION,
  BINDINGS_COLLECTION,
  BINDINGS_ENDPOINT,
  CUSTOMER_GROUP,
  ROLES,
  ROLES_COLLECTION,
  ROLES_ENDPOINT,
  UMS_CONFIG_COLLECTION,
  UMS_CONFIG_ENDPOINT,
  USERS_COLLECTION,
  USERS_ENDPOINT,
} from './fixtures.js'

export interface StackOptions {
  /** ums environment overrides (values win over the stack's wiring). */
  env?: Record<string, string | undefined>
  /** ums port; an ephemeral one when omitted. */
  port?: number
  host?: string
  logStream?: DestinationStream
  auth0?: Auth0EmulatorOptions
  timer?: ConstructorParameters<typeof TimerEmulator>[0]
  /** Fixed emulator ports (the sandbox's); ephemeral ones when omitted. */
  emulatorPorts?: { crud: number; auth: number; rond: number; timer: number }
  /** How late every emulator answers every call, ms (each one's `latencyMs`); 0 when omitted. */
  peerLatencyMs?: number
  /** Peers ums is pointed at a closed loopback port for, so every call to them is refused. */
  unreachable?: Array<'crud' | 'auth' | 'rond' | 'timer'>
  /** With ENABLE_TRACING: where ums's spans go (tests pass an in-memory exporter's processor). */
  spanProcessors?: BuildOptions['spanProcessors']
}

const PEER_VARIABLES = { crud: 'CRUD_SERVICE', auth: 'AUTH_SERVICE', rond: 'ROND_SERVICE', timer: 'TIMER_SERVICE' } as const

export interface Stack {
  url: string
  app: FastifyInstance
  config: Config
  crud: CrudEmulator
  auth0: Auth0ClientEmulator
  rond: RondEmulator
  timer: TimerEmulator
  /** Resets every emulator (data, faults, request logs) and seeds the fixtures again. */
  resetPeers(): void
  close(): Promise<void>
}

/** A free loopback port, so UMS_SERVICE (the timer callback target) is known before listening. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The ums environment wiring it to emulators at these URLs and listening on `port`. */
export function stackEnv(peers: { crud: string; auth: string; rond: string; timer: string }, port: number): Record<string, string> {
  return {
    HTTP_PORT: String(port),
    LOG_LEVEL: 'silent',
    AUTH_SERVICE: peers.auth,
    AUTH_CONNECTION,
    CRUD_SERVICE: peers.crud,
    USERS_CRUD_ENDPOINT: USERS_ENDPOINT,
    UMS_CONFIG_CRUD_ENDPOINT: UMS_CONFIG_ENDPOINT,
    ROLES_CRUD_ENDPOINT: ROLES_ENDPOINT,
    BINDINGS_CRUD_ENDPOINT: BINDINGS_ENDPOINT,
    ROND_ENABLED: 'true',
    ROND_SERVICE: peers.rond,
    TIMER_SERVICE: peers.timer,
    UMS_SERVICE: `http://127.0.0.1:${port}`,
    UPSTREAM_TIMEOUT_MS: '2000',
    WAIT_BEFORE_SERVER_CLOSE_SEC: '0',
  }
}

/** Rönd's bindings copied, change by change, to the CRUD emulator's bindings collection. */
export function crudBindings(crud: CrudEmulator): BindingsMirror {
  return {
    added: (binding) => {
      crud.seed(BINDINGS_ENDPOINT, [{ ...binding }])
    },
    changed: (binding) => crud.setMatching(BINDINGS_ENDPOINT, { bindingId: binding.bindingId }, { subjects: binding.subjects ?? [], groups: binding.groups ?? [] }),
    removed: (bindingIds) => crud.removeMatching(BINDINGS_ENDPOINT, { bindingId: { $in: bindingIds } }),
    cleared: () => crud.clearCollection(BINDINGS_ENDPOINT),
  }
}

export function seedFixtures(crud: CrudEmulator): void {
  crud.seed(UMS_CONFIG_ENDPOINT, [CUSTOMER_GROUP])
  crud.seed(ROLES_ENDPOINT, ROLES)
}

export interface Emulators {
  crud: CrudEmulator
  auth0: Auth0ClientEmulator
  rond: RondEmulator
  timer: TimerEmulator
  /** The emulators' base URLs, as stackEnv takes them. */
  urls: { crud: string; auth: string; rond: string; timer: string }
  /** Resets every emulator (data, faults, request logs) and seeds the fixtures again. */
  reset(): void
  close(): Promise<void>
}

/** The four emulators on loopback, seeded; for tests that run ums in processes of their own. */
export async function startEmulators(options: Pick<StackOptions, 'auth0' | 'timer' | 'emulatorPorts' | 'peerLatencyMs'> = {}): Promise<Emulators> {
  const crud = new CrudEmulator({ collections: [USERS_COLLECTION, UMS_CONFIG_COLLECTION, ROLES_COLLECTION, BINDINGS_COLLECTION] })
  const auth0 = new Auth0ClientEmulator(options.auth0)
  // Rönd keeps its bindings in the CRUD, as the real one does: ums's reconciliation reads them there.
  const rond = new RondEmulator({ mirror: crudBindings(crud) })
  const timer = new TimerEmulator(options.timer)
  const ports = options.emulatorPorts
  for (const emulator of [crud, auth0, rond, timer]) emulator.latencyMs = options.peerLatencyMs ?? 0
  await Promise.all([crud.start(ports?.crud), auth0.start(ports?.auth), rond.start(ports?.rond), timer.start(ports?.timer)])
  seedFixtures(crud)
  return {
    crud,
    auth0,
    rond,
    timer,
    urls: { crud: crud.url, auth: auth0.url, rond: rond.url, timer: timer.url },
    reset() {
      for (const emulator of [crud, auth0, rond, timer]) emulator.reset()
      seedFixtures(crud)
    },
    async close() {
      await Promise.all([crud.close(), auth0.close(), rond.close(), timer.close()])
    },
  }
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const emulators = await startEmulators(options)
  const { crud, auth0, rond, timer } = emulators

  const refused: Record<string, string> = {}
  for (const peer of options.unreachable ?? []) refused[PEER_VARIABLES[peer]] = `http://127.0.0.1:${await freePort()}`

  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? (await freePort())
  const config = await loadConfig({ ...stackEnv(emulators.urls, port), ...options.env, ...refused }, { useProcessEnv: false })
  const app = await buildApp(config, {
    ...(options.logStream ? { logStream: options.logStream } : {}),
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
  })
  await app.listen({ host, port })

  return {
    url: `http://127.0.0.1:${port}`,
    app,
    config,
    crud,
    auth0,
    rond,
    timer,
    resetPeers: () => emulators.reset(),
    async close() {
      await app.close()
      await emulators.close()
    },
  }
}
