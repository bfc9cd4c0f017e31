// Child process: ums itself, built from src/app.ts and wired to the peers child's emulators with
// the environment src/sandbox/stack.ts gives it (LOG_LEVEL silent unless overridden).
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { AUTH_CONNECTION, ROLES_ENDPOINT, UMS_CONFIG_ENDPOINT, USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { freePort } from '../../src/sandbox/stack.js'
import type { PeersInfo } from './peers.js'
import { childOptions, serve } from './ipc.js'

export interface UmsOptions {
  peers: PeersInfo
  /** Environment overrides (win over the wiring below). */
  env?: Record<string, string>
}

export interface UmsInfo {
  url: string
}

const options = childOptions<UmsOptions>()

await serve<UmsInfo>(async () => {
  const port = await freePort()
  const { peers } = options
  // Same wiring as startStack() in src/sandbox/stack.ts.
  const config = await loadConfig(
    {
      HTTP_PORT: String(port),
      LOG_LEVEL: 'silent',
      AUTH_SERVICE: peers.auth,
      AUTH_CONNECTION,
      CRUD_SERVICE: peers.crud,
      USERS_CRUD_ENDPOINT: USERS_ENDPOINT,
      UMS_CONFIG_CRUD_ENDPOINT: UMS_CONFIG_ENDPOINT,
      ROLES_CRUD_ENDPOINT: ROLES_ENDPOINT,
      ROND_ENABLED: 'true',
      ROND_SERVICE: peers.rond,
      TIMER_SERVICE: peers.timer,
      UMS_SERVICE: `http://127.0.0.1:${port}`,
      UPSTREAM_TIMEOUT_MS: '2000',
      WAIT_BEFORE_SERVER_CLOSE_SEC: '0',
      ...options.env,
    },
    { useProcessEnv: false },
  )
  const app = await buildApp(config)
  await app.listen({ host: '127.0.0.1', port })
  return {
    info: { url: `http://127.0.0.1:${port}` },
    close: () => app.close(),
  }
})
