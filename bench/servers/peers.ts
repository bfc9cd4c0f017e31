// Child process: the four peer emulators ums talks to (CRUD, Auth0 Client, Rönd, Timer), wired and
// seeded like src/sandbox/stack.ts does, in one process of their own. The baseline proxy and ums
// both point at this same CRUD emulator.
//
// With `latencyMs` every emulator answers every call that many ms late.
//
// The request logs are tallied before they are trimmed (see `tally`): per route and status, plus
// the size of every Auth0 import file and the first/last arrival per route, so scenarios can check
// what reached the emulators without keeping hundreds of thousands of log entries.
//
// A scenario may start two of these children and point ums at the CRUD emulator of one and the
// Auth0 Client emulator of the other (the other emulators stay idle), so that the synchronous work
// of one emulator (e.g. an Auth0 import job being processed) does not stall the other.
import { Auth0ClientEmulator, type Auth0EmulatorOptions, type SeedUserInput, type UploadedFileSummary } from '../../src/sandbox/auth0-emulator.js'
import { CrudEmulator } from '../../src/sandbox/crud-emulator.js'
import type { Emulator, RecordedRequest } from '../../src/sandbox/emulator-kit.js'
import { RondEmulator } from '../../src/sandbox/rond-emulator.js'
import { TimerEmulator, type TimerEmulatorOptions } from '../../src/sandbox/timer-emulator.js'
import { BINDINGS_COLLECTION, ROLES_COLLECTION, UMS_CONFIG_COLLECTION, USERS_COLLECTION, USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { crudBindings, seedFixtures } from '../../src/sandbox/stack.js'
import { childOptions, serve } from './ipc.js'

export interface PeersOptions {
  auth0?: Auth0EmulatorOptions
  timer?: TimerEmulatorOptions
  /**
   * Keep every emulator's request log. Off by default: under load the logs (a copy of each
   * request's headers) grow by hundreds of thousands of entries and the GC work would skew the run.
   */
  keepRequestLogs?: boolean
  /** Every emulator answers every call this many ms late (its `latencyMs`): peers a network hop away. */
  latencyMs?: number
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

/** `seedAuthUsers`: one auth user per entry, and a CRUD user of the `customer` group linked to it. */
export interface SeedAuthUsersArg {
  users: Array<{ email: string; username: string; name: string; surname: string }>
}

/** `seedAuth`: auth users only (ids, emails, dates as given), e.g. with the CRUD users seeded apart. */
export interface SeedAuthArg {
  users: SeedUserInput[]
}

/** What the emulators answered since the last `resetStats`, per peer and route. */
export interface RouteStats {
  /** Status code (or `reset`/`hang`) → count. */
  outcomes: Record<string, number>
  firstAtMs: number
  lastAtMs: number
}

export interface PeerStats {
  /** `METHOD /path` with ids replaced by `:id` → stats. */
  routes: Record<string, RouteStats>
}

export interface StatsAnswer {
  crud: PeerStats
  auth: PeerStats & {
    /** One entry per `POST /users/import` answered: the users file's bytes and the status sent. */
    importFiles: Array<{ bytes: number; users: number; outcome: string }>
  }
  rond: PeerStats
  timer: PeerStats
}

/** `outbox`: one change-password email the Auth0 Client emulator sent, in sending order. */
export interface OutboxMail {
  email: string
  /** When the emulator accepted the request, epoch ms (this machine's clock, as the parent's Date.now()). */
  atMs: number
}

/** `crudUsers`: the users collection, reduced to what the checks need. */
export interface CrudUserBrief {
  _id: string
  email?: string
  authUserId?: string
}

/** `authUsers`: the Auth0 Client emulator's users, reduced likewise. */
export interface AuthUserBrief {
  user_id: string
  email: string
}

const options = childOptions<PeersOptions>()

/** Path segments that are ids (ObjectId, UUID, `job_…`, `auth0|…`) become `:id`, so routes group. */
function routeKey(record: RecordedRequest): string {
  const path = record.path
    .split('/')
    .map((segment) => (/^(?:[0-9a-f]{24}|[0-9a-f-]{36}|job_\w+|auth0(?:\||%7C).+)$/i.test(segment) ? ':id' : segment))
    .join('/')
  return `${record.method} ${path}`
}

function emptyStats(): StatsAnswer {
  return { crud: { routes: {} }, auth: { routes: {}, importFiles: [] }, rond: { routes: {} }, timer: { routes: {} } }
}

/** Bytes and entries of the users file of an import request (-1 when unknown). */
function importFile(body: unknown): { bytes: number; users: number } {
  const users = (body as { users?: unknown } | undefined)?.users
  // The emulator also accepts a JSON body whose `users` is the array itself.
  if (Array.isArray(users)) return { bytes: Buffer.byteLength(JSON.stringify(users)), users: users.length }
  if (typeof users !== 'object' || users === null) return { bytes: -1, users: -1 }
  const summary = users as UploadedFileSummary
  return { bytes: typeof summary.size === 'number' ? summary.size : -1, users: Array.isArray(summary.json) ? summary.json.length : -1 }
}

await serve<PeersInfo>(async () => {
  const crud = new CrudEmulator({ collections: [USERS_COLLECTION, UMS_CONFIG_COLLECTION, ROLES_COLLECTION, BINDINGS_COLLECTION] })
  const auth0 = new Auth0ClientEmulator(options.auth0)
  const rond = new RondEmulator({ mirror: crudBindings(crud) })
  const timer = new TimerEmulator(options.timer)
  const emulators = [crud, auth0, rond, timer]
  for (const emulator of emulators) emulator.latencyMs = options.latencyMs ?? 0
  await Promise.all(emulators.map((emulator) => emulator.start()))
  seedFixtures(crud)

  let stats = emptyStats()
  const counted = new WeakSet<RecordedRequest>()
  /** Counts the answered requests not counted yet; drops them from the log unless it is kept. */
  const tally = () => {
    const tallied: Array<[Emulator, PeerStats]> = [
      [crud, stats.crud],
      [auth0, stats.auth],
      [rond, stats.rond],
      [timer, stats.timer],
    ]
    for (const [emulator, peer] of tallied) {
      for (const record of emulator.requests) {
        if (record.outcome === undefined || counted.has(record)) continue
        counted.add(record)
        const key = routeKey(record)
        const at = record.at.getTime()
        const route = (peer.routes[key] ??= { outcomes: {}, firstAtMs: at, lastAtMs: at })
        const outcome = String(record.outcome)
        route.outcomes[outcome] = (route.outcomes[outcome] ?? 0) + 1
        route.firstAtMs = Math.min(route.firstAtMs, at)
        route.lastAtMs = Math.max(route.lastAtMs, at)
        if (emulator === auth0 && key === 'POST /users/import') {
          stats.auth.importFiles.push({ ...importFile(record.body), outcome })
        }
      }
    }
    if (options.keepRequestLogs) return
    for (const emulator of emulators) {
      // Requests still being answered stay: their outcome is not known yet.
      const unanswered = emulator.requests.filter((record) => record.outcome === undefined)
      emulator.clearRequests()
      emulator.requests.push(...unanswered)
    }
  }
  const trim = setInterval(tally, 500)

  return {
    info: { crud: crud.url, auth: auth0.url, rond: rond.url, timer: timer.url },
    handlers: {
      /** Inserts CRUD documents; answers how many. */
      seed: (arg) => {
        const { path, docs } = arg as SeedArg
        return crud.seed(path, docs).length
      },
      /** Inserts CRUD documents; answers their `_id`s. */
      seedIds: (arg) => {
        const { path, docs } = arg as SeedArg
        return crud.seed(path, docs)
      },
      /** Auth users plus their CRUD users; answers the auth user ids, in order. */
      seedAuthUsers: (arg) => {
        const { users } = arg as SeedAuthUsersArg
        const ids = users.map((user) => auth0.seedUser({ email: user.email, username: user.username, password: 'Bench-Secret1' }).user_id)
        crud.seed(
          USERS_ENDPOINT,
          users.map((user, index) => ({ userGroup: 'customer', ...user, authUserId: ids[index] })),
        )
        return ids
      },
      /** Auth users as given (`seedUser`: no password policy, duplicates refused); answers how many. */
      seedAuth: (arg) => {
        const { users } = arg as SeedAuthArg
        for (const user of users) auth0.seedUser(user)
        return users.length
      },
      /** The tallies since the last reset (the log is tallied first). */
      stats: (): StatsAnswer => {
        tally()
        return stats
      },
      resetStats: () => {
        tally()
        stats = emptyStats()
        return true
      },
      crudUsers: (): CrudUserBrief[] =>
        crud.documents(USERS_ENDPOINT).map((user) => ({
          _id: String(user._id),
          ...(typeof user.email === 'string' && { email: user.email }),
          ...(typeof user.authUserId === 'string' && { authUserId: user.authUserId }),
        })),
      /** How many change-password emails were sent (cheap, for polling). */
      outboxSize: () => auth0.outbox.length,
      outbox: (): OutboxMail[] => auth0.outbox.map((mail) => ({ email: mail.email, atMs: mail.at.getTime() })),
      authUsers: (): AuthUserBrief[] => auth0.listUsers().map((user) => ({ user_id: user.user_id, email: user.email })),
      reset: () => {
        for (const emulator of emulators) emulator.reset()
        seedFixtures(crud)
        stats = emptyStats()
        return true
      },
    },
    async close() {
      clearInterval(trim)
      await Promise.all(emulators.map((emulator) => emulator.close()))
    },
  }
})
