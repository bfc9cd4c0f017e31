// The emulators of a scenario, from the parent's side: one peers child (bench/servers/peers.ts)
// serving all four, or — `authApart` — a second one whose Auth0 Client emulator ums uses instead,
// so an emulator's synchronous work (an Auth0 import job running over thousands of users) does not
// stall the other's answers. `info` is what ums is wired to.
import { startChild, type ServerChild } from './children.js'
import type { BenchContext } from './scenario.js'
import type { PeersInfo, PeersOptions, StatsAnswer } from './servers/peers.js'

export interface Peers {
  /** Serves the CRUD, Rönd and Timer emulators ums uses (and the Auth0 one unless `authApart`). */
  main: ServerChild<PeersInfo>
  /** Serves the Auth0 Client emulator ums uses (`main` itself unless `authApart`). */
  auth: ServerChild<PeersInfo>
  info: PeersInfo
  /** Every peers child (for CPU samples and stopping). */
  children: Array<ServerChild<PeersInfo>>
  /** CRUD, Rönd and Timer tallies of `main`, Auth0 tallies of `auth`. */
  stats(): Promise<StatsAnswer>
  resetStats(): Promise<void>
}

export async function startPeers(ctx: BenchContext, options: PeersOptions & { authApart?: boolean }, started: Array<{ stop(): Promise<void> }>): Promise<Peers> {
  const { authApart, ...peersOptions } = options
  const start = (name: string) =>
    startChild<PeersInfo>({ name, entry: 'peers.ts', options: peersOptions, cpuProfileDir: ctx.cpuProfileDir('peers') }).then((child) => {
      started.push(child)
      return child
    })
  const pair: [ServerChild<PeersInfo>, ServerChild<PeersInfo>] = authApart
    ? await Promise.all([start('peers'), start('peers-auth')])
    : await start('peers').then((child) => [child, child])
  const [main, auth] = pair
  const children = main === auth ? [main] : [main, auth]
  return {
    main,
    auth,
    info: { ...main.info, auth: auth.info.auth },
    children,
    async stats() {
      const [crudSide, authSide] = await Promise.all([main.call<StatsAnswer>('stats'), auth.call<StatsAnswer>('stats')])
      return { crud: crudSide.crud, auth: authSide.auth, rond: crudSide.rond, timer: crudSide.timer }
    },
    async resetStats() {
      await Promise.all(children.map((child) => child.call('resetStats')))
    },
  }
}
