// The auth service answers a user creation whose email or username is taken with a bare 409:
// which field is taken is found out here, by looking both up.
import type { AuthProvider } from '../../auth-providers/provider.js'
import type { CallContext } from '../../clients/http.js'
import { duplicateReason } from '../../clients/refusal.js'
import type { UpstreamError } from '../../errors/index.js'

/**
 * Completes the auth service's 409 on a user creation with the fields another auth user already
 * holds, looked up by the email and the username that were sent. A failed lookup leaves the
 * reason out: the 409 stands either way.
 */
export async function explainAuthConflict(
  error: UpstreamError,
  auth: AuthProvider,
  user: { email?: string | undefined; username?: string | undefined },
  ctx: CallContext,
): Promise<void> {
  if (error.service !== 'AUTH' || error.status !== 409) return
  try {
    const taken: string[] = []
    // One after the other: lookups spend the management API budget.
    if (user.email !== undefined && (await auth.listUsersByEmails([user.email], ctx)).length > 0) taken.push('email')
    if (user.username !== undefined && (await auth.listUsersByUsernames([user.username], ctx)).length > 0) taken.push('username')
    error.refusal = { status: 409, reason: duplicateReason(taken) }
  } catch (lookupError) {
    ctx.log.warn({ err: lookupError }, 'could not tell which field of the new auth user is taken')
  }
}
