// Child process: the four peer emulators ums talks to (CRUD, Auth0 Client, Rönd, Timer), wired and
// seeded like src/sandbox/stack.ts does, in one process of their own. The baseline proxy and ums
// both point at this same CRUD emulator.
import { Auth0ClientEmulator, type Auth0EmulatorOptions } from '../../src/sandbox/auth0-emulator.js'
import { CrudEmulator } from '../../src/sandbox/crud-emulator.js'
import { RondEmulator } from '../../src/sandbox/rond-emulator.js'
import { TimerEmulator, type TimerEmulatorOptions } from '../../src/sandbox/timer-emulator.js'
import { ROLES_COLLECTION, UMS_CONFIG_COLLECTION, USERS_COLLECTION } from '../../src/sandbox/fixtures.js'
import { seedFixtures } from '../../src/sandbox/stack.js'
import { childOptions, serve } from './ipc.js'

export interface PeersOptions {
  auth0?: Auth0EmulatorOptions
  timer?: TimerEmulatorOptions
  /**
   * Keep every emulator's request log. Off by default: under load the logs (a copy of each
   * request's headers) grow by hundreds of thousands of entries and the GC work would skew the run.
   */
  keepRequestLogs?: boolean
}

export interface PeersInfo {
  crud: string
  auth: string
  rond: string
  timer: string
}

export interface SeedArg {
  path: string
  docs: Record<string, unknown>[]
}

const options = childOptions<PeersOptions>()

await serve<PeersInfo>(async () => {
  const crud = new CrudEmulator({ collections: [USERS_COLLECTION, UMS_CONFIG_COLLECTION, ROLES_COLLECTION] })
  const auth0 = new Auth0ClientEmulator(options.auth0)
  const rond = new RondEmulator()
  const timer = new TimerEmulator(options.timer)
  const emulators = [crud, auth0, rond, timer]
  await Promise.all(emulators.map((emulator) => emulator.start()))
  seedFixtures(crud)

  const trim = options.keepRequestLogs ? undefined : setInterval(() => emulators.forEach((emulator) => emulator.clearRequests()), 500)

  return {
    info: { crud: crud.url, auth: auth0.url, rond: rond.url, timer: timer.url },
    handlers: {
      /** Inserts CRUD documents; answers how many. */
      seed: (arg) => {
        const { path, docs } = arg as SeedArg
        return crud.seed(path, docs).length
      },
      reset: () => {
        for (const emulator of emulators) emulator.reset()
        seedFixtures(crud)
        return true
      },
    },
    async close() {
      clearInterval(trim)
      await Promise.all(emulators.map((emulator) => emulator.close()))
    },
  }
})
