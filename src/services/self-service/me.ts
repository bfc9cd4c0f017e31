// What logged users do to themselves: read and edit their own user within what their group
// allows, change their own password, answer the consents their group asks for.
import type { CallContext } from '../../clients/http.js'
import type { CrudDocument } from '../../clients/crud.js'
import { HttpError, UpstreamError, badRequest } from '../../errors/index.js'
import type { Consent } from '../group-schemas.js'
import type { UsersDeps } from '../users/context.js'
import { updateAuthUser } from '../users/context.js'
import { CLIENT_FORBIDDEN_FIELDS, patchedPaths, sameValue } from '../users/fields.js'
import { patchUser } from '../users/update.js'
import { loggedUser } from './caller.js'
import type { OwnPasswordChange, SelfPatch } from '../../schemas/self-service.js'

/**
 * Never edited by users themselves, whatever their group's `editableFields` says: they decide
 * access (roles, groups, blocked, group, expiry) or are written by ums.
 */
export const NEVER_SELF_EDITABLE: readonly string[] = ['roles', 'groups', 'blocked', 'userGroup', 'expirationDate', 'consents', ...CLIENT_FORBIDDEN_FIELDS]

/** The logged user's CRUD document, with the auth service's word on whether its email is verified. */
export async function getMe(deps: UsersDeps, ctx: CallContext): Promise<CrudDocument> {
  const { user, profile } = await loggedUser(deps, ctx)
  return typeof profile.email_verified === 'boolean' ? { ...user, email_verified: profile.email_verified } : user
}

/** `$set`/`$unset` on the fields the user's group lets its users edit, with every guarantee of the admin PATCH. */
export async function patchMe(deps: UsersDeps, patch: SelfPatch, ctx: CallContext): Promise<CrudDocument> {
  const { user } = await loggedUser(deps, ctx)
  const paths = patchedPaths(patch)
  if (paths.length === 0) throw badRequest('body must set or unset at least one field ($set, $unset)', 'UMS_INVALID_UPDATE')
  const group = await deps.groups.get(String(user.userGroup), ctx)
  const editable = new Set(group.selfService.editableFields)
  for (const path of paths) {
    const field = path.split('.')[0]!
    if (NEVER_SELF_EDITABLE.includes(field) || !editable.has(field)) {
      throw new HttpError(403, `${field} is not a field users of group ${group.userGroup} can edit themselves`, 'UMS_FIELD_NOT_SELF_EDITABLE')
    }
  }
  return patchUser(deps, user._id, patch, ctx, { verifyNewEmail: true, current: user })
}

/**
 * Checks the current password with a login at the auth service, then sets the new one there.
 * Neither password is logged, put in an error message or in a metric.
 */
export async function changeOwnPassword(deps: UsersDeps, change: OwnPasswordChange, ctx: CallContext): Promise<void> {
  const { user, profile, authUserId } = await loggedUser(deps, ctx)
  const login = [user.username, user.email, profile.email].find((value): value is string => typeof value === 'string' && value !== '')
  const verified = login !== undefined && (await deps.auth.verifyPassword(login, change.currentPassword, ctx))
  if (!verified) throw new HttpError(403, 'the current password is wrong: nothing changed', 'UMS_WRONG_PASSWORD')
  try {
    await updateAuthUser(deps, authUserId, { password: change.newPassword }, ctx)
  } catch (error) {
    // The connection's password policy: the caller's to fix, said in the caller's terms.
    if (error instanceof UpstreamError && error.refusal?.status === 400) {
      throw badRequest(error.refusal.reason ?? 'the auth connection refused the new password', 'UMS_PEER_REFUSED')
    }
    throw error
  }
}

export interface ConsentAnswer {
  key: string
  version: number | string
  required: boolean
  /** Null when never answered, or answered for an earlier version. */
  granted: boolean | null
  at: string | null
}

/** The stored answer of `consent`, when it answers the consent's current version. */
function answerOf(user: CrudDocument, consent: Consent): { granted: boolean; at: string | null } | undefined {
  const consents = user.consents
  if (typeof consents !== 'object' || consents === null) return undefined
  const stored = (consents as Record<string, unknown>)[consent.key]
  if (typeof stored !== 'object' || stored === null) return undefined
  const { granted, version, at } = stored as { granted?: unknown; version?: unknown; at?: unknown }
  if (typeof granted !== 'boolean' || !sameValue(version, consent.version)) return undefined
  return { granted, at: typeof at === 'string' ? at : null }
}

function consentList(consents: readonly Consent[], user: CrudDocument): ConsentAnswer[] {
  return consents.map((consent) => {
    const answer = answerOf(user, consent)
    return { key: consent.key, version: consent.version, required: consent.required, granted: answer?.granted ?? null, at: answer?.at ?? null }
  })
}

/** Each consent the user's group declares, with the user's answer to its current version. */
export async function listConsents(deps: UsersDeps, ctx: CallContext): Promise<ConsentAnswer[]> {
  const { user } = await loggedUser(deps, ctx)
  const group = await deps.groups.get(String(user.userGroup), ctx)
  return consentList(group.selfService.consents, user)
}

/** Stores `consents.<key> = {granted, version, at}` on the user; 404 for a key the group does not declare. */
export async function answerConsent(deps: UsersDeps, key: string, granted: boolean, ctx: CallContext, now = new Date()): Promise<ConsentAnswer[]> {
  const { user } = await loggedUser(deps, ctx)
  const group = await deps.groups.get(String(user.userGroup), ctx)
  const consent = group.selfService.consents.find((candidate) => candidate.key === key)
  if (!consent) {
    const declared = group.selfService.consents.map((candidate) => candidate.key)
    const known = declared.length === 0 ? 'it declares none' : `it declares ${declared.join(', ')}`
    throw new HttpError(404, `group ${group.userGroup} declares no consent ${key}: ${known}`, 'UMS_UNKNOWN_CONSENT')
  }
  const answer = { granted, version: consent.version, at: now.toISOString() }
  const updated = await patchUser(deps, user._id, { $set: { [`consents.${consent.key}`]: answer } }, ctx, { current: user })
  return consentList(group.selfService.consents, updated)
}
