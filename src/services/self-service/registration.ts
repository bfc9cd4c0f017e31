// POST /users/self-register: people open their own account in a group that accepts sign-ups,
// with the group's default roles and groups. An email or username already taken gets the very
// answer a new account gets, so that nobody can find out who has an account; its owner gets the
// change-password email instead, to get back in.
import type { CallContext } from '../../clients/http.js'
import { ALL_STATES } from '../../clients/crud.js'
import { HttpError, UpstreamError, badRequest } from '../../errors/index.js'
import { isDomainAllowed } from '../../lib/email-domains.js'
import { passwordProblem } from '../../lib/password-policy.js'
import { sleep } from '../../lib/sleep.js'
import { countSelfRegistration, type SelfRegistrationOutcome } from '../../observability/metrics.js'
import type { UserGroup } from '../group-schemas.js'
import type { UsersDeps } from '../users/context.js'
import { createUser } from '../users/create.js'
import { NEVER_SELF_EDITABLE } from './me.js'
import type { SelfRegistrationBody } from '../../schemas/self-service.js'

export const REGISTRATION_ACCEPTED = { message: 'Check your e-mail to complete the registration' } as const

/** The fields a sign-up names the account with, besides the group's editable profile fields. */
const ACCOUNT_FIELDS = new Set(['userGroup', 'email', 'username', 'password'])

const disabled = (userGroup: string) => new HttpError(403, `group ${userGroup} does not accept sign-ups`, 'UMS_SELF_REGISTRATION_DISABLED')

/** The group, if it accepts sign-ups; an unknown group reads like a closed one (its name is the caller's guess). */
async function openGroup(deps: UsersDeps, userGroup: string, ctx: CallContext): Promise<UserGroup> {
  let group: UserGroup
  try {
    group = await deps.groups.get(userGroup, ctx)
  } catch (error) {
    if (error instanceof HttpError && error.code === 'UMS_UNKNOWN_GROUP') throw disabled(userGroup)
    throw error
  }
  // A sign-up without an auth user could never log in.
  if (!group.selfRegistration.enabled || group.authUserCreationDisabled) throw disabled(userGroup)
  return group
}

function assertFieldsAllowed(body: SelfRegistrationBody, group: UserGroup): void {
  const editable = new Set(group.selfService.editableFields)
  for (const field of Object.keys(body)) {
    if (ACCOUNT_FIELDS.has(field)) continue
    if (NEVER_SELF_EDITABLE.includes(field) || !editable.has(field)) {
      throw badRequest(`body.${field} cannot be given at sign-up in group ${group.userGroup}`, 'UMS_FIELD_NOT_ALLOWED')
    }
  }
}

const isDuplicate = (error: unknown) =>
  (error instanceof HttpError && error.statusCode === 409) || (error instanceof UpstreamError && (error.refusal?.status ?? error.status) === 409)

/** The email of whoever holds the email or the username of a refused sign-up. */
async function ownerEmail(deps: UsersDeps, body: SelfRegistrationBody, ctx: CallContext): Promise<string | undefined> {
  const byEmail = await deps.crud.users.findOne({ email: body.email }, ctx, ALL_STATES)
  if (byEmail || (await deps.auth.listUsersByEmails([body.email], ctx)).length > 0) return body.email
  if (body.username === undefined) return undefined
  const byUsername = await deps.crud.users.findOne<{ email?: unknown }>({ username: body.username }, ctx, ALL_STATES)
  if (typeof byUsername?.email === 'string' && byUsername.email !== '') return byUsername.email
  const [profile] = await deps.auth.listUsersByUsernames([body.username], ctx)
  return typeof profile?.email === 'string' && profile.email !== '' ? profile.email : undefined
}

/** Lets the owner of an existing account back in; a failure is logged, never told to the caller. */
async function remindOwner(deps: UsersDeps, body: SelfRegistrationBody, ctx: CallContext): Promise<void> {
  try {
    const email = await ownerEmail(deps, body, ctx)
    if (email !== undefined) await deps.auth.sendChangePasswordEmail(email, ctx)
  } catch (error) {
    ctx.log.warn({ err: error }, 'a sign-up for an existing account: the change-password email could not be sent to its owner')
  }
}

function outcomeOf(error: unknown): SelfRegistrationOutcome | undefined {
  if (!(error instanceof HttpError)) return error instanceof UpstreamError && error.refusal?.status === 400 ? 'invalid' : undefined
  if (error.code === 'UMS_SELF_REGISTRATION_DISABLED') return 'disabled'
  if (error.code === 'UMS_EMAIL_DOMAIN_NOT_ALLOWED') return 'domain_refused'
  return error.statusCode === 400 ? 'invalid' : undefined
}

async function register(deps: UsersDeps, body: SelfRegistrationBody, ctx: CallContext): Promise<SelfRegistrationOutcome> {
  const group = await openGroup(deps, body.userGroup, ctx)
  assertFieldsAllowed(body, group)
  if (!isDomainAllowed(body.email, group.selfRegistration.allowedEmailDomains)) {
    throw new HttpError(403, `e-mail addresses of this domain cannot sign up to group ${group.userGroup}`, 'UMS_EMAIL_DOMAIN_NOT_ALLOWED')
  }
  const { password, ...profile } = body
  const weakness = password === undefined ? undefined : passwordProblem(password, deps.config.selfRegistrationPasswordPolicy)
  if (weakness !== undefined) throw badRequest(weakness, 'UMS_PASSWORD_TOO_WEAK')
  const user = {
    ...profile,
    roles: [...group.selfRegistration.defaultRoles],
    groups: [...group.selfRegistration.defaultGroups],
    ...(password !== undefined ? { password } : {}),
  }
  try {
    // Without a password, the change-password email is the "set your password" notification.
    await createUser(deps, user, { postponeAuthUserCreation: false, sendResetPwdEmail: password === undefined }, ctx, { verifyEmail: true })
    return 'created'
  } catch (error) {
    if (!isDuplicate(error)) throw error
    await remindOwner(deps, body, ctx)
    return 'already_exists'
  }
}

/**
 * Registers, or reminds the owner of an existing account; either way the caller gets the same
 * answer, no sooner than `minDurationMs` after the request, so that the time does not tell either.
 */
export async function selfRegister(
  deps: UsersDeps,
  body: SelfRegistrationBody,
  ctx: CallContext,
  minDurationMs: number,
): Promise<typeof REGISTRATION_ACCEPTED> {
  const startedAt = Date.now()
  let outcome: SelfRegistrationOutcome
  try {
    outcome = await register(deps, body, ctx)
  } catch (error) {
    const refused = outcomeOf(error)
    if (refused !== undefined) countSelfRegistration(refused)
    throw error
  }
  countSelfRegistration(outcome)
  const left = minDurationMs - (Date.now() - startedAt)
  if (left > 0) await sleep(left)
  return REGISTRATION_ACCEPTED
}
