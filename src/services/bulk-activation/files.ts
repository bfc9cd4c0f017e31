// The Auth0 users files of a bulk activation: one entry per CRUD user with
// a generated 24-hex `user_id`, packed in order into files whose serialized JSON stays within
// IMPORT_FILE_MAX_BYTES (measured in bytes, exactly as the provider sends it: JSON.stringify).
import { randomBytes } from 'node:crypto'
import { IMPORT_FILE_MAX_BYTES } from '../../auth-providers/auth0-contract.js'
import type { ImportUser } from '../../auth-providers/provider.js'
import { mustBeBlocked } from '../users/repository.js'
import { appMetadataOf } from '../users/context.js'

/** The CRUD fields a bulk activation reads (`_p`). */
export const ACTIVATION_FIELDS = '_id,email,username,blocked,groups,authUserId,__STATE__'

/** The CRUD fields a bulk activation reads. */
export interface ActivationCandidate {
  _id: string
  email?: unknown
  username?: unknown
  blocked?: unknown
  groups?: unknown
  authUserId?: unknown
  __STATE__?: unknown
}

/** 24 random lowercase hex characters, Auth0's own id format (UMS 1.5.1); the auth id becomes `auth0|<it>`. */
export function generateAuthId(): string {
  return randomBytes(12).toString('hex')
}

/** The file entry of a CRUD user that has an email. */
export function toImportUser(user: ActivationCandidate & { email: string }, generatedId: string): ImportUser {
  const entry: ImportUser = { user_id: generatedId, email: user.email, email_verified: false }
  if (typeof user.username === 'string' && user.username !== '') entry.username = user.username
  // Such a user must not be able to log in: imported blocked, as `POST /users/register` creates it
  // blocked (a later state change to PUBLIC unblocks it).
  if (mustBeBlocked(user)) entry.blocked = true
  else if (typeof user.blocked === 'boolean') entry.blocked = user.blocked
  if (user.groups !== undefined) entry.app_metadata = appMetadataOf(user.groups)
  return entry
}

/** Bytes of `JSON.stringify(users)`, the body of the file part. */
export function serializedBytes(users: readonly unknown[]): number {
  return Buffer.byteLength(JSON.stringify(users))
}

export interface SplitFiles<T> {
  files: T[][]
  /** Entries that alone exceed the limit: no file can carry them. */
  tooLarge: T[]
}

/**
 * Packs the entries, in order, into as few files as a greedy fill allows, each serializing to at
 * most `maxBytes`: `[` + entries joined by `,` + `]`.
 */
export function splitIntoFiles<T>(entries: readonly T[], maxBytes = IMPORT_FILE_MAX_BYTES): SplitFiles<T> {
  const files: T[][] = []
  const tooLarge: T[] = []
  let current: T[] = []
  let currentBytes = 2
  for (const entry of entries) {
    const bytes = Buffer.byteLength(JSON.stringify(entry))
    if (bytes + 2 > maxBytes) {
      tooLarge.push(entry)
      continue
    }
    const added = current.length === 0 ? bytes : bytes + 1
    if (currentBytes + added > maxBytes) {
      files.push(current)
      current = []
      currentBytes = 2
      currentBytes += bytes
    } else {
      currentBytes += added
    }
    current.push(entry)
  }
  if (current.length > 0) files.push(current)
  return { files, tooLarge }
}
