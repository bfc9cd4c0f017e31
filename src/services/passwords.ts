// Passwords: crypto-random generation and the change-password email of the auth service.
import { randomInt } from 'node:crypto'
import type { CallContext } from '../clients/http.js'
import type { CrudClient } from '../clients/crud.js'
import { ALL_STATES } from '../clients/crud.js'
import type { AuthProvider } from '../auth-providers/provider.js'
import { notFound } from '../errors/index.js'

const CLASSES = ['abcdefghijkmnopqrstuvwxyz', 'ABCDEFGHJKLMNPQRSTUVWXYZ', '23456789', '!@#$%^&*-_=+?'] as const
const ALL = CLASSES.join('')

/** A password of `length` (≥ 4) random characters with at least one of each class. */
export function generatePassword(length: number): string {
  if (length < CLASSES.length) throw new RangeError(`password length must be at least ${CLASSES.length}`)
  const chars = CLASSES.map((set) => set[randomInt(set.length)]!)
  while (chars.length < length) chars.push(ALL[randomInt(ALL.length)]!)
  // Fisher-Yates with a CSPRNG, so the guaranteed characters are not always first.
  for (let i = chars.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1)
    ;[chars[i], chars[j]] = [chars[j]!, chars[i]!]
  }
  return chars.join('')
}

export interface ChangePasswordDeps {
  crud: CrudClient
  auth: AuthProvider
}

/**
 * Sends the auth service's change-password email to the user with `authUserId`. The email comes
 * from the CRUD user, else from the auth profile.
 */
export async function sendChangePasswordEmail(deps: ChangePasswordDeps, authUserId: string, ctx: CallContext): Promise<void> {
  const user = await deps.crud.users.findOne<{ email?: unknown }>({ authUserId }, ctx, ALL_STATES)
  let email = typeof user?.email === 'string' && user.email !== '' ? user.email : undefined
  if (email === undefined) {
    const [profile] = await deps.auth.listUsersByIds([authUserId], ctx)
    email = typeof profile?.email === 'string' ? profile.email : undefined
  }
  if (email === undefined) throw notFound(`User with authUserId ${authUserId} not found`, 'UMS_USER_NOT_FOUND')
  await deps.auth.sendChangePasswordEmail(email, ctx)
}
