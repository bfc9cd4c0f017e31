// The app in the test process, for route tests that need no network: built from a minimal
// configuration (every peer at an address nothing listens on), with fake peers whose calls fail
// the test unless the test gave that call an answer, and driven through inject. Closed after the
// file (useBuild) or the test (build).
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, onTestFinished } from 'vitest'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/index.js'
import type { Peers } from '../../src/plugins/peers.js'
import type { Answer } from './stack.js'

const NOWHERE = 'http://127.0.0.1:9'

/** The variables ums requires, with every peer unreachable. */
const MINIMAL_ENV = {
  LOG_LEVEL: 'silent',
  AUTH_SERVICE: NOWHERE,
  AUTH_CONNECTION: 'Username-Password-Authentication',
  CRUD_SERVICE: NOWHERE,
  USERS_CRUD_ENDPOINT: '/users',
  UMS_CONFIG_CRUD_ENDPOINT: '/ums-config',
}

/**
 * A peer whose every method fails the test: any property is another such object (clients hold
 * collections), and calling one rejects, as a client's call would, naming the call.
 */
function unexpectedPeer(path: string): never {
  const call = () => Promise.reject(new Error(`unexpected peer call ${path}(): give the fake peer an answer for it`))
  return new Proxy(call, {
    get: (_target, property) => (property === 'then' ? undefined : unexpectedPeer(`${path}.${String(property)}`)),
  }) as never
}

export interface BuildOptions {
  /** Variables over the minimal configuration. */
  env?: Record<string, string>
  /** The fake peers' answers: what is not given fails the test when called. */
  peers?: Partial<Peers>
}

async function start(options: BuildOptions): Promise<FastifyInstance> {
  const config = await loadConfig({ ...MINIMAL_ENV, ...options.env }, { useProcessEnv: false })
  const peers: Peers = {
    crud: unexpectedPeer('crud'),
    auth: unexpectedPeer('auth'),
    rond: unexpectedPeer('rond'),
    timer: config.services.timer === undefined ? undefined : unexpectedPeer('timer'),
    ...options.peers,
  }
  const app = await buildApp(config, { peers })
  await app.ready()
  return app
}

/** The app for the current test, closed when it finishes. */
export async function build(options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = await start(options)
  onTestFinished(() => app.close())
  return app
}

/** Sends a request through inject; the answer in the shape the HTTP helpers return. */
export async function inject<T = any>(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE' | 'HEAD',
  path: string,
  options: { json?: unknown; headers?: Record<string, string>; raw?: string } = {},
): Promise<Answer<T>> {
  const response = await app.inject({
    method,
    url: path,
    headers: options.headers,
    ...(options.json !== undefined ? { payload: JSON.stringify(options.json), headers: { 'content-type': 'application/json', ...options.headers } } : {}),
    ...(options.raw !== undefined ? { payload: options.raw } : {}),
  })
  let body: unknown = response.body
  try {
    body = response.body === '' ? undefined : JSON.parse(response.body)
  } catch {
    body = response.body
  }
  const headers = Object.fromEntries(Object.entries(response.headers).map(([name, value]) => [name, typeof value === 'number' ? String(value) : value]))
  return { status: response.statusCode, headers, body: body as T, text: response.body }
}

/** One app for the whole file (beforeAll), closed after it; `call` injects into it. */
export function useBuild(options: BuildOptions = {}): { readonly current: FastifyInstance; call: <T = any>(method: Parameters<typeof inject>[1], path: string, opts?: Parameters<typeof inject>[3]) => Promise<Answer<T>> } {
  let app: FastifyInstance | undefined
  beforeAll(async () => {
    app = await start(options)
  })
  afterAll(async () => {
    await app?.close()
  })
  const current = () => {
    if (!app) throw new Error('app not built')
    return app
  }
  return {
    get current() {
      return current()
    },
    call: (method, path, opts) => inject(current(), method, path, opts),
  }
}
