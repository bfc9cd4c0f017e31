// Creating users: POST /users/, POST /users/with-id and POST /users/register. Every step that
// writes registers its undo, so a failing later step leaves neither a CRUD document nor an auth
// user behind.
import type { CallContext } from '../../clients/http.js'
import { ALL_STATES, type CrudDocument } from '../../clients/crud.js'
import { UpstreamError, badRequest, conflict, notFound } from '../../errors/index.js'
import { explainAuthConflict } from './auth-conflict.js'
import { generatePassword } from '../passwords.js'
import { settleLostWrite } from '../lost-writes.js'
import { Rollback, sideBySide } from '../rollback.js'
import { assertClientWritable, sameValue, stringArray } from './fields.js'
import { CLOCK_SLACK_MS, insertUser, patchUserReadBack, showsPatch } from './read-back.js'
import { appMetadataOf, authGroupsOf, expirationOf, grantRoles, scheduleExpiry, updateAuthUser, type UsersDeps } from './context.js'
import type { CreateOptions, NewUserBody, NewUserWithIdBody, RegisterOptions, RegisterUserBody } from '../../schemas/users.js'

/** The user without the password, which goes to the auth service only. */
function withoutPassword(body: Record<string, unknown>): Record<string, unknown> {
  const { password: _password, ...user } = body
  return user
}

/** The user document the CRUD stores: everything but the password, inserted PUBLIC. */
function crudDocument(body: Record<string, unknown>): Record<string, unknown> {
  return { ...withoutPassword(body), __STATE__: 'PUBLIC' }
}

/** Validates the user as the CRUD will store it: `password` is not a user field. */
async function validateAgainstGroup(deps: UsersDeps, body: Record<string, unknown>, ctx: CallContext) {
  const group = await deps.groups.get(String(body.userGroup), ctx)
  const problem = group.validate(withoutPassword(body))
  if (problem) throw badRequest(problem, 'UMS_GROUP_SCHEMA_MISMATCH')
  return group
}

/**
 * `$set` on the user just inserted or read. A 404 means the document disappeared meanwhile
 * (deleted concurrently): continuing would leave an auth user or a timer without their CRUD
 * user, so it fails the step like any other CRUD error.
 */
async function setOnUser(deps: UsersDeps, userId: string, fields: Record<string, unknown>, ctx: CallContext): Promise<void> {
  const patch = { $set: fields }
  const updated = await patchUserReadBack(deps.crud.users, userId, patch, (stored) => showsPatch(patch, stored), ctx)
  if (updated === undefined) throw new UpstreamError('CRUD', 'PATCH', `${deps.crud.users.endpoint}/:id`, 404, undefined)
}

/**
 * The steps after the CRUD insert that every creation shares, as few round trips apart as their
 * dependencies allow: the auth user (`authUser`: created, or the existing one) side by side with
 * the expiry timer, whose callback names the CRUD user; then side by side the CRUD user's new
 * fields (the auth user's id when `linkAuthUser`, the timer's id), the roles and the
 * change-password email, which need only the two users. An email cannot be taken back: should the
 * link or the grant fail, the user may have been mailed about an account that is then removed.
 */
async function finishCreation(
  deps: UsersDeps,
  user: { _id: string; roles: string[]; expirationDate: Date | undefined; email: unknown },
  authUser: () => Promise<string | undefined>,
  linkAuthUser: boolean,
  sendResetPwdEmail: boolean,
  ctx: CallContext,
  rollback: Rollback,
): Promise<void> {
  const { expirationDate } = user
  const [authUserId, expirationId] = await sideBySide(
    authUser,
    async () => (expirationDate ? scheduleExpiry(deps, user._id, expirationDate, ctx, rollback) : undefined),
  )
  const fields: Record<string, unknown> = {}
  if (linkAuthUser && authUserId) fields.authUserId = authUserId
  if (expirationId) fields.expirationId = expirationId
  const { email } = user
  await sideBySide(
    async () => (Object.keys(fields).length > 0 ? setOnUser(deps, user._id, fields, ctx) : undefined),
    async () => (authUserId ? grantRoles(deps, authUserId, user.roles, ctx, rollback) : undefined),
    async () => (sendResetPwdEmail && authUserId && typeof email === 'string' && email !== '' ? deps.auth.sendChangePasswordEmail(email, ctx) : undefined),
  )
}

/** Creates the auth user; it is deleted again on a later failure. */
async function createAuthUser(
  deps: UsersDeps,
  user: { email?: unknown; username?: unknown; blocked: boolean | undefined; groups: unknown; verifyEmail?: boolean },
  password: string,
  ctx: CallContext,
  rollback: Rollback,
): Promise<string> {
  const email = typeof user.email === 'string' ? user.email : undefined
  const username = typeof user.username === 'string' ? user.username : undefined
  let created: { authUserId: string }
  const sentAt = Date.now()
  try {
    created = await deps.auth.createUser(
      {
        password,
        ...(email !== undefined ? { email } : {}),
        ...(username !== undefined ? { username } : {}),
        ...(user.blocked !== undefined ? { blocked: user.blocked } : {}),
        ...(user.groups !== undefined ? { app_metadata: appMetadataOf(user.groups) } : {}),
        ...(user.verifyEmail ? { verify_email: true } : {}),
      },
      ctx,
    )
  } catch (error) {
    // The auth service's 409 does not say which field is taken: look it up for the message.
    if (error instanceof UpstreamError) await explainAuthConflict(error, deps.auth, { email, username }, ctx)
    created = await settleLostWrite(error, ctx.log, () => findCreatedAuthUser(deps, { email, username }, sentAt, ctx))
  }
  const { authUserId } = created
  // Known from now on: a failed undo of any later step names this auth user too.
  rollback.ids.authUserId = authUserId
  rollback.add('delete the auth user', () => deps.auth.deleteUser(authUserId, ctx))
  return authUserId
}

/**
 * The auth user a creation whose answer was lost made: the one with its email and username
 * created since the call (an older one was somebody else's, and the creation failed on it).
 */
async function findCreatedAuthUser(
  deps: UsersDeps,
  user: { email: string | undefined; username: string | undefined },
  sentAt: number,
  ctx: CallContext,
): Promise<{ authUserId: string } | undefined> {
  const profiles =
    user.email !== undefined
      ? await deps.auth.listUsersByEmails([user.email], ctx)
      : user.username !== undefined
        ? await deps.auth.listUsersByUsernames([user.username], ctx)
        : []
  const since = sentAt - CLOCK_SLACK_MS
  const created = profiles.find(
    (profile) =>
      typeof profile.user_id === 'string' &&
      (user.email === undefined || String(profile.email).toLowerCase() === user.email.toLowerCase()) &&
      (user.username === undefined || profile.username === user.username) &&
      typeof profile.created_at === 'string' &&
      Date.parse(profile.created_at) >= since,
  )
  return created ? { authUserId: created.user_id as string } : undefined
}

const blockedFlag = (value: unknown): boolean | undefined => (typeof value === 'boolean' ? value : undefined)

/** What only ums itself asks of a creation (self-registration). */
export interface CreationExtras {
  /** The auth service mails the new user a link to verify the email. */
  verifyEmail?: boolean
}

/** POST /users/: CRUD insert, then auth user and expiry, link and roles, email; 200 `{_id}`. */
export async function createUser(
  deps: UsersDeps,
  body: NewUserBody,
  options: CreateOptions,
  ctx: CallContext,
  extras: CreationExtras = {},
): Promise<{ _id: string }> {
  assertClientWritable(Object.keys(body), 'set')
  const rollback = new Rollback('createUser', ctx.log)
  const group = await validateAgainstGroup(deps, body, ctx)
  // First, alone: a user the CRUD refuses (a taken email, a field it does not declare) gets no auth user.
  const insertedId = await insertUser(deps.crud.users, crudDocument(body), ctx)
  rollback.ids.userId = insertedId
  rollback.add('delete the CRUD user', () => deps.crud.users.deleteById(insertedId, ctx))
  const withAuthUser = !options.postponeAuthUserCreation && !group.authUserCreationDisabled
  const authUser = async () => {
    if (!withAuthUser) return undefined
    const password = body.password ?? generatePassword(deps.config.randomPasswordLength)
    const user = { email: body.email, username: body.username, blocked: blockedFlag(body.blocked), groups: body.groups, verifyEmail: extras.verifyEmail === true }
    return createAuthUser(deps, user, password, ctx, rollback)
  }
  return rollback.guard(async () => {
    await finishCreation(
      deps,
      { _id: insertedId, roles: stringArray(body.roles), expirationDate: expirationOf(body.expirationDate), email: body.email },
      authUser,
      true,
      options.sendResetPwdEmail,
      ctx,
      rollback,
    )
    return { _id: insertedId }
  })
}

/** POST /users/with-id: a CRUD user for an auth user that already exists. */
export async function createUserWithId(
  deps: UsersDeps,
  body: NewUserWithIdBody,
  ctx: CallContext,
): Promise<{ _id: string }> {
  const { authUserId, ...rest } = body
  assertClientWritable(Object.keys(rest), 'set')
  const rollback = new Rollback('createUserWithId', ctx.log, { authUserId })
  await validateAgainstGroup(deps, rest, ctx)
  const [[authUser], existing] = await sideBySide(
    () => deps.auth.listUsersByIds([authUserId], ctx),
    () => deps.crud.users.findOne({ authUserId }, ctx, ALL_STATES),
  )
  if (!authUser) throw badRequest(`User ${authUserId} does not exist in the auth service`, 'UMS_AUTH_USER_NOT_FOUND')
  if (existing) throw conflict(`A user with authUserId ${authUserId} already exists`, 'UMS_DUPLICATE_USER')
  const insertedId = await rollback.guard(async () => {
    // A user created blocked must not be able to log in: block the existing auth user first.
    if (rest.blocked === true && authUser.blocked !== true) {
      const unblock = () => rollback.add('unblock the auth user again', () => deps.auth.updateUser(authUserId, { blocked: false }, ctx))
      await updateAuthUser(deps, authUserId, { blocked: true }, ctx, { onUnknown: unblock })
      unblock()
    }
    const id = await insertUser(deps.crud.users, { ...crudDocument(rest), authUserId }, ctx)
    rollback.ids.userId = id
    rollback.add('delete the CRUD user', () => deps.crud.users.deleteById(id, ctx))
    // The existing auth user takes the CRUD user's groups, which the platform's authorization
    // reads: like roles, once the CRUD user exists.
    const syncGroups = async () => {
      const groupsBefore = appMetadataOf(authGroupsOf(authUser))
      const groupsAfter = appMetadataOf(rest.groups)
      if (sameValue(groupsBefore, groupsAfter)) return authUserId
      const restoreGroups = () => rollback.add('restore the groups of the auth user', () => deps.auth.updateUser(authUserId, { app_metadata: groupsBefore }, ctx))
      await updateAuthUser(deps, authUserId, { app_metadata: groupsAfter }, ctx, { onUnknown: restoreGroups })
      restoreGroups()
      return authUserId
    }
    await finishCreation(
      deps,
      { _id: id, roles: stringArray(rest.roles), expirationDate: expirationOf(rest.expirationDate), email: rest.email },
      syncGroups,
      false,
      false,
      ctx,
      rollback,
    )
    return id
  })
  return { _id: insertedId }
}

/** POST /users/register: the auth user of a CRUD user created with postponeAuthUserCreation. */
export async function registerUser(
  deps: UsersDeps,
  body: RegisterUserBody,
  options: RegisterOptions,
  ctx: CallContext,
): Promise<void> {
  const rollback = new Rollback('registerUser', ctx.log, { userId: body._id })
  const user = await deps.crud.users.getById<CrudDocument>(body._id, ctx)
  if (!user) throw notFound(`User ${body._id} not found`, 'UMS_USER_NOT_FOUND')
  if (typeof user.authUserId === 'string' && user.authUserId !== '') throw conflict(`User ${body._id} is already registered`, 'UMS_ALREADY_REGISTERED')
  const group = await deps.groups.get(String(user.userGroup), ctx)
  if (group.authUserCreationDisabled) throw badRequest(`Auth user creation is disabled for userGroup ${group.userGroup}`, 'UMS_AUTH_CREATION_DISABLED')
  const password =
    deps.config.randomPasswordGeneration || body.password === undefined ? generatePassword(deps.config.randomPasswordLength) : body.password
  // A user outside PUBLIC (DRAFT, TRASH, DELETED) must not be able to log in: its auth user is
  // created blocked, as a state change to PUBLIC would unblock it.
  const blocked = user.__STATE__ !== undefined && user.__STATE__ !== 'PUBLIC' ? true : blockedFlag(user.blocked)
  await rollback.guard(async () => {
    const authUser = async () => {
      const authUserId = await createAuthUser(deps, { email: user.email, username: user.username, blocked, groups: user.groups }, password, ctx, rollback)
      // The CRUD user outlives a failure: it is left unregistered rather than pointing at the
      // deleted auth user. Registered before the `$set`, which may land even when it times out.
      rollback.add('unset the authUserId', () => deps.crud.users.patchById(body._id, { $unset: { authUserId: true } }, ctx))
      return authUserId
    }
    await finishCreation(
      deps,
      { _id: body._id, roles: stringArray(user.roles), expirationDate: undefined, email: user.email },
      authUser,
      true,
      options.sendResetPwdEmail,
      ctx,
      rollback,
    )
  })
}
