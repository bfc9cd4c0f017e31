// Users the job tests work on, seeded straight into the emulators.
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { Emulators } from '../../src/sandbox/stack.js'

type Peers = Pick<Emulators, 'crud' | 'auth0'>

/** `count` auth users `<prefix>-<i>@example.com`, each with its CRUD user; returns their auth ids. */
export function seedAuthUsers(peers: Peers, count: number, prefix: string): string[] {
  return Array.from({ length: count }, (_unused, index) => {
    const email = `${prefix}-${index}@example.com`
    const authUser = peers.auth0.seedUser({ email, username: `${prefix}-${index}`, password: 'Secret-Pass1' })
    peers.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'N', surname: 'S', authUserId: authUser.user_id, email }])
    return authUser.user_id
  })
}

/** `count` CRUD users without an auth user (`<prefix>-<i>@example.com`); returns their `_id`s. */
export function seedCrudOnlyUsers(peers: Peers, count: number, prefix: string): string[] {
  return peers.crud.seed(
    USERS_ENDPOINT,
    Array.from({ length: count }, (_unused, index) => ({ userGroup: 'customer', name: 'N', surname: 'S', email: `${prefix}-${index}@example.com`, username: `${prefix}-${index}` })),
  )
}
