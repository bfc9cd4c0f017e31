// Creating users: POST /users/, POST /users/with-id and POST /users/register. Every step that
// writes registers its undo, so a failing later step leaves neither a CRUD document nor an auth
// user behind.
import type { CallContext } from '../../clients/http.js'
import { ALL_STATES, type CrudDocument } from '../../clients/crud.js'
import { UpstreamError, badRequest, conflict, notFound } from '../../errors/index.js'
import { explainAuthConflict } from './auth-conflict.js'
import { generatePassword } from '../passwords.js'
import { settleLostWrite } from '../lost-writes.js'
import { Rollback } from '../rollback.js'
import { assertClientWritable, stringArray } from './fields.js'
import { CLOCK_SLACK_MS, insertUser, patchUserReadBack, showsPatch } from './read-back.js'
import { expirationOf, grantRoles, scheduleExpiry, updateAuthUser, type UsersDeps } from './context.js'
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
 * The steps after the CRUD insert that every creation shares: roles, expiry timer (its id stored
 * on the user) and the change-password email.
 */
async function finishCreation(
  deps: UsersDeps,
  user: { _id: string; authUserId: string | undefined; roles: string[]; expirationDate: Date | undefined; email: unknown },
  sendResetPwdEmail: boolean,
  ctx: CallContext,
  rollback: Rollback,
): Promise<void> {
  if (user.authUserId) await grantRoles(deps, user.authUserId, user.roles, ctx, rollback)
  if (user.expirationDate) {
    const expirationId = await scheduleExpiry(deps, user._id, user.expirationDate, ctx, rollback)
    if (expirationId) await setOnUser(deps, user._id, { expirationId }, ctx)
  }
  if (sendResetPwdEmail && user.authUserId && typeof user.email === 'string' && user.email !== '') {
    await deps.auth.sendChangePasswordEmail(user.email, ctx)
  }
}

/**
 * Creates the auth user and stores its id on the CRUD document; the auth user is deleted again on
 * a later failure. With `keepsCrudUser` (register: the CRUD user outlives a failure) the stored
 * id is also unset again, so the user is left unregistered rather than pointing at a deleted
 * auth user; the undo is registered before the `$set` because a timed-out `$set` may still land.
 */
async function createAuthUser(
  deps: UsersDeps,
  userId: string,
  user: { email?: unknown; username?: unknown; blocked: boolean | undefined },
  password: string,
  ctx: CallContext,
  rollback: Rollback,
  keepsCrudUser: boolean,
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
  if (keepsCrudUser) {
    rollback.add('unset the authUserId', () => deps.crud.users.patchById(userId, { $unset: { authUserId: true } }, ctx))
  }
  await setOnUser(deps, userId, { authUserId }, ctx)
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

/** POST /users/: CRUD insert, auth user, roles, expiry, email; 200 `{_id}`. */
export async function createUser(deps: UsersDeps, body: NewUserBody, options: CreateOptions, ctx: CallContext): Promise<{ _id: string }> {
  assertClientWritable(Object.keys(body), 'set')
  const rollback = new Rollback('createUser', ctx.log)
  const group = await validateAgainstGroup(deps, body, ctx)
  const insertedId = await insertUser(deps.crud.users, crudDocument(body), ctx)
  rollback.ids.userId = insertedId
  rollback.add('delete the CRUD user', () => deps.crud.users.deleteById(insertedId, ctx))
  return rollback.guard(async () => {
    let authUserId: string | undefined
    if (!options.postponeAuthUserCreation && !group.authUserCreationDisabled) {
      const password = body.password ?? generatePassword(deps.config.randomPasswordLength)
      authUserId = await createAuthUser(
        deps,
        insertedId,
        { email: body.email, username: body.username, blocked: blockedFlag(body.blocked) },
        password,
        ctx,
        rollback,
        false,
      )
    }
    await finishCreation(
      deps,
      { _id: insertedId, authUserId, roles: stringArray(body.roles), expirationDate: expirationOf(body.expirationDate), email: body.email },
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
  const [authUser] = await deps.auth.listUsersByIds([authUserId], ctx)
  if (!authUser) throw badRequest(`User ${authUserId} does not exist in the auth service`, 'UMS_AUTH_USER_NOT_FOUND')
  const existing = await deps.crud.users.findOne({ authUserId }, ctx, ALL_STATES)
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
    await finishCreation(
      deps,
      { _id: id, authUserId, roles: stringArray(rest.roles), expirationDate: expirationOf(rest.expirationDate), email: rest.email },
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
    const authUserId = await createAuthUser(deps, body._id, { email: user.email, username: user.username, blocked }, password, ctx, rollback, true)
    await finishCreation(
      deps,
      { _id: body._id, authUserId, roles: stringArray(user.roles), expirationDate: undefined, email: user.email },
      options.sendResetPwdEmail,
      ctx,
      rollback,
    )
  })
}
