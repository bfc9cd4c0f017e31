// Process entry: configuration, app, listen, graceful shutdown on SIGTERM and SIGINT.
import { ConfigError, loadConfig } from './config/index.js'
import { buildApp } from './app.js'
import { closeOnSignals } from './lifecycle/shutdown.js'

async function main(): Promise<void> {
  const config = await loadConfig(process.env, { dotenv: true })
  const app = await buildApp(config)
  await app.listen({ host: '0.0.0.0', port: config.httpPort })
  closeOnSignals(app, config.waitBeforeServerCloseMs)
}

main().catch((error: unknown) => {
  // A configuration problem is one line naming the variable; anything else keeps its stack.
  console.error(error instanceof ConfigError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error))
  process.exit(1)
})
