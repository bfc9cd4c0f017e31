// POST /users/:id/force-password-reset: the old password stops working at once (a random one
// replaces it), then the user gets the change-password email to choose a new one.
import type { CallContext } from '../../clients/http.js'
import { HttpError, notFound } from '../../errors/index.js'
import { generatePassword } from '../passwords.js'
import { updateAuthUser, type UsersDeps } from './context.js'

export async function forcePasswordReset(deps: UsersDeps, userId: string, ctx: CallContext): Promise<void> {
  const user = await deps.crud.users.getById(userId, ctx)
  if (!user) throw notFound(`User ${userId} not found`, 'UMS_USER_NOT_FOUND')
  const authUserId = typeof user.authUserId === 'string' && user.authUserId !== '' ? user.authUserId : undefined
  if (!authUserId) throw new HttpError(409, `User ${userId} has no auth user: there is no password to reset`, 'UMS_NO_AUTH_USER')
  // The email is found first: a user who could not be told would be locked out.
  let email = typeof user.email === 'string' && user.email !== '' ? user.email : undefined
  if (email === undefined) {
    const [profile] = await deps.auth.listUsersByIds([authUserId], ctx)
    email = typeof profile?.email === 'string' && profile.email !== '' ? profile.email : undefined
  }
  if (email === undefined) throw new HttpError(409, `User ${userId} has no email to send the change-password email to`, 'UMS_NO_EMAIL')
  await updateAuthUser(deps, authUserId, { password: generatePassword(deps.config.randomPasswordLength) }, ctx)
  await deps.auth.sendChangePasswordEmail(email, ctx)
}
