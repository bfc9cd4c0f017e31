// Child process: ums itself, built from src/app.ts and wired to the peers child's emulators with
// the environment of src/sandbox/stack.ts (`stackEnv`; LOG_LEVEL silent unless overridden).
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { freePort, stackEnv } from '../../src/sandbox/stack.js'
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
  const config = await loadConfig({ ...stackEnv(peers, port), ...options.env }, { useProcessEnv: false })
  const app = await buildApp(config)
  await app.listen({ host: '127.0.0.1', port })
  return {
    info: { url: `http://127.0.0.1:${port}` },
    close: () => app.close(),
  }
})
