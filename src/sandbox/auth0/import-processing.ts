// What an Auth0 bulk import job does with its file once it runs: per-user validation, duplicates
// inside the file, the upsert rules against existing users, and the exact summary. Runs from the job timers, never inside an HTTP request.
import { AUTH0_USER_ID_PREFIX } from '../../auth-providers/auth0-contract.js'
import { hex24, isoMillis } from './ids.js'
import { isEmail, jsonTypeOf, mergeMetadata, type StoredUser, type UserStore } from './users.js'
import { isPlainObject } from '../../lib/plain-object.js'

export interface ImportError {
  code: string
  message: string
  path?: string
}

export interface ImportErrorEntry {
  user: unknown
  errors: ImportError[]
}

export interface ImportSummary {
  failed: number
  updated: number
  inserted: number
  total: number
}

export type ImportOutcome =
  | { status: 'completed'; summary: ImportSummary; errors: ImportErrorEntry[] }
  | { status: 'failed' }

const IMPORT_FIELDS: Record<string, 'string' | 'boolean' | 'object'> = {
  email: 'string',
  email_verified: 'boolean',
  user_id: 'string',
  username: 'string',
  given_name: 'string',
  family_name: 'string',
  name: 'string',
  nickname: 'string',
  picture: 'string',
  blocked: 'boolean',
  app_metadata: 'object',
  user_metadata: 'object',
  password_hash: 'string',
  custom_password_hash: 'object',
}

/** Profile fields an upsert overwrites on an existing user (Auth0's upsert rules). */
const UPSERT_PROFILE_FIELDS = ['email_verified', 'given_name', 'family_name', 'name', 'nickname', 'picture'] as const

const RESERVED_APP_METADATA_KEYS = new Set([
  '__tenant',
  '_id',
  'blocked',
  'clientID',
  'created_at',
  'email',
  'email_verified',
  'global_client_id',
  'globalClientID',
  'identities',
  'lastIP',
  'lastLogin',
  'loginsCount',
  'metadata',
  'multifactor',
  'updated_at',
  'user_id',
])

const BCRYPT_COST_10 = /^\$2[ab]\$10\$[./A-Za-z0-9]{53}$/

/** The submitted user as the errors endpoint shows it: secrets masked. */
function masked(user: unknown): unknown {
  if (!isPlainObject(user, 'any')) return user
  const copy = structuredClone(user)
  for (const secret of ['password_hash', 'custom_password_hash']) if (secret in copy) copy[secret] = '*****'
  return copy
}

function validate(user: unknown): ImportError[] {
  if (!isPlainObject(user, 'any')) return [{ code: 'INVALID_TYPE', message: `Expected type object but found type ${jsonTypeOf(user)}` }]
  const errors: ImportError[] = []
  const extra = Object.keys(user).filter((key) => !Object.hasOwn(IMPORT_FIELDS, key))
  if (extra.length > 0) errors.push({ code: 'OBJECT_ADDITIONAL_PROPERTIES', message: `Additional properties not allowed: ${extra.join(',')}` })
  if (user.email === undefined) errors.push({ code: 'OBJECT_REQUIRED', message: 'Missing required property: email', path: 'email' })
  for (const [key, value] of Object.entries(user)) {
    const expected = IMPORT_FIELDS[key]
    if (expected !== undefined && jsonTypeOf(value) !== expected) {
      errors.push({ code: 'INVALID_TYPE', message: `Expected type ${expected} but found type ${jsonTypeOf(value)}`, path: key })
    }
  }
  if (typeof user.email === 'string' && !isEmail(user.email)) {
    errors.push({ code: 'FORMAT', message: `Object didn't pass validation for format email: ${user.email}`, path: 'email' })
  }
  if (typeof user.password_hash === 'string' && !BCRYPT_COST_10.test(user.password_hash)) {
    errors.push({ code: 'PATTERN', message: 'String does not match pattern of a bcrypt hash ($2a$/$2b$, cost 10)', path: 'password_hash' })
  }
  if (user.password_hash !== undefined && user.custom_password_hash !== undefined) {
    errors.push({ code: 'NOT_PASSED', message: 'password_hash and custom_password_hash are mutually exclusive', path: 'custom_password_hash' })
  }
  if (isPlainObject(user.app_metadata, 'any')) {
    for (const key of Object.keys(user.app_metadata).filter((candidate) => RESERVED_APP_METADATA_KEYS.has(candidate))) {
      errors.push({ code: 'NOT_PASSED', message: `app_metadata must not contain the reserved key ${key}`, path: `app_metadata.${key}` })
    }
  }
  return errors
}

/** Remembers the values already provided by earlier users of the same file. */
class SeenInFile {
  private readonly emails = new Set<string>()
  private readonly ids = new Set<string>()
  private readonly usernames = new Set<string>()

  duplicates(email: string, idPart: string | undefined, username: string | undefined): ImportError[] {
    const errors: ImportError[] = []
    if (this.emails.has(email)) errors.push({ code: 'DUPLICATED_USER', message: 'A user with this email was already provided.', path: 'email' })
    if (idPart !== undefined && this.ids.has(idPart)) {
      errors.push({ code: 'DUPLICATED_USER', message: 'A user with this user_id was already provided.', path: 'user_id' })
    }
    if (username !== undefined && this.usernames.has(username)) {
      errors.push({ code: 'NON_UNIQUE_PROPERTY_VALUE', message: `Property "username" has non-unique value: ${username}`, path: 'username' })
    }
    return errors
  }

  add(email: string, idPart: string | undefined, username: string | undefined): void {
    this.emails.add(email)
    if (idPart !== undefined) this.ids.add(idPart)
    if (username !== undefined) this.usernames.add(username)
  }
}

function updateExisting(existing: StoredUser, user: Record<string, unknown>, nowMs: number): void {
  const profile = existing.profile as unknown as Record<string, unknown>
  for (const field of UPSERT_PROFILE_FIELDS) if (user[field] !== undefined) profile[field] = user[field]
  for (const field of ['app_metadata', 'user_metadata'] as const) {
    const changes = user[field]
    if (isPlainObject(changes, 'any')) existing.profile[field] = mergeMetadata(existing.profile[field], changes)
  }
  existing.profile.updated_at = isoMillis(nowMs)
}

/** Runs one import file against the store for `connection`. */
export function runImport(fileText: string, connection: string, upsert: boolean, users: UserStore, nowMs: number): ImportOutcome {
  let parsed: unknown
  try {
    parsed = JSON.parse(fileText)
  } catch {
    return { status: 'failed' }
  }
  if (!Array.isArray(parsed)) return { status: 'failed' }

  const summary: ImportSummary = { failed: 0, updated: 0, inserted: 0, total: parsed.length }
  const errors: ImportErrorEntry[] = []
  const seen = new SeenInFile()
  const fail = (user: unknown, userErrors: ImportError[]) => {
    summary.failed += 1
    errors.push({ user: masked(user), errors: userErrors })
  }

  for (const user of parsed) {
    const invalid = validate(user)
    if (invalid.length > 0 || !isPlainObject(user, 'any')) {
      fail(user, invalid)
      continue
    }
    const email = (user.email as string).toLowerCase()
    const idPart = user.user_id as string | undefined
    const username = user.username as string | undefined
    const inFile = seen.duplicates(email, idPart, username)
    seen.add(email, idPart, username)
    if (inFile.length > 0) {
      fail(user, inFile)
      continue
    }

    const byEmail = users.findByEmail(connection, email)
    const byId = idPart === undefined ? undefined : users.get(AUTH0_USER_ID_PREFIX + idPart)
    const byUsername = username === undefined ? undefined : users.findByUsername(connection, username)
    if (!upsert) {
      const conflicts: ImportError[] = []
      if (byEmail) conflicts.push({ code: 'DUPLICATED_USER', message: 'A user with this email already exists.', path: 'email' })
      if (byId) conflicts.push({ code: 'DUPLICATED_USER', message: 'A user with this user_id already exists.', path: 'user_id' })
      if (byUsername) conflicts.push({ code: 'DUPLICATED_USER', message: 'A user with this username already exists.', path: 'username' })
      if (conflicts.length > 0) {
        fail(user, conflicts)
        continue
      }
    } else {
      if (byUsername && byUsername !== byEmail) {
        fail(user, [{ code: 'CONFLICT_USERNAME', message: `The username ${username ?? ''} is already used by another user.`, path: 'username' }])
        continue
      }
      if (byEmail) {
        // Matched on email: updated in place, keeping its own user_id (the file's is ignored).
        updateExisting(byEmail, user, nowMs)
        summary.updated += 1
        continue
      }
      if (byId) {
        fail(user, [{ code: 'DUPLICATED_USER', message: 'A user with this user_id already exists.', path: 'user_id' }])
        continue
      }
    }

    users.insert({
      connection,
      email,
      idPart: idPart ?? hex24(),
      username,
      email_verified: user.email_verified as boolean | undefined,
      blocked: user.blocked as boolean | undefined,
      name: user.name as string | undefined,
      nickname: user.nickname as string | undefined,
      picture: user.picture as string | undefined,
      given_name: user.given_name as string | undefined,
      family_name: user.family_name as string | undefined,
      app_metadata: user.app_metadata as Record<string, unknown> | undefined,
      user_metadata: user.user_metadata as Record<string, unknown> | undefined,
    })
    summary.inserted += 1
  }
  return { status: 'completed', summary, errors }
}
