// The emulator's user store: Auth0 user objects keyed by
// `user_id`, per-connection uniqueness of email and username, and the validation and merge
// rules of Auth0's create and update endpoints as relayed by the Auth0 Client.
//
// Lookups by email and username do not scan: each connection keeps a map from the (lowercased)
// email and from the username to its user, kept in step wherever a user is stored, deleted or has
// its email or username changed, so seeding or importing a tenant of 100,000 users stays linear.
// Both are unique per connection, so a map answers what a scan in insertion order would.
import { createHash } from 'node:crypto'
import { AUTH0_USER_ID_PREFIX } from '../../auth-providers/auth0-contract.js'
import { invalidBody, managementError } from './errors.js'
import { hex24, isoMillis } from './ids.js'
import { resolveConnection, type ResolvedOptions } from './options.js'
import { isPlainObject } from '../../lib/plain-object.js'

export interface Auth0Identity {
  connection: string
  user_id: string
  provider: 'auth0'
  isSocial: false
}

/** An Auth0 user object; optional keys appear only when set. */
export interface Auth0User {
  user_id: string
  email: string
  email_verified: boolean
  username?: string
  created_at: string
  updated_at: string
  identities: Auth0Identity[]
  name: string
  nickname: string
  picture: string
  given_name?: string
  family_name?: string
  phone_number?: string
  blocked?: boolean
  app_metadata?: Record<string, unknown>
  user_metadata?: Record<string, unknown>
  last_login?: string
  logins_count?: number
}

export interface StoredUser {
  profile: Auth0User
  connection: string
  /** Clear-text password (emulator only); imported users have none and cannot log in. */
  password?: string
  /** Before this instant the user is missing from `GET /users` (Auth0 search lag). */
  visibleAtMs: number
}

export interface SeedUserInput {
  email: string
  password?: string
  username?: string
  blocked?: boolean
  /** Kept as is when it already starts with `auth0|`, prefixed otherwise. */
  user_id?: string
  app_metadata?: Record<string, unknown>
  user_metadata?: Record<string, unknown>
  connection?: string
  /** Backdates the user (by default it is created now). */
  created_at?: string
}

/** Fields of a new user (create, seed, import insert) after validation. */
interface NewUserFields {
  connection: string
  email: string
  idPart: string
  password?: string
  username?: string
  email_verified?: boolean
  blocked?: boolean
  name?: string
  nickname?: string
  picture?: string
  given_name?: string
  family_name?: string
  phone_number?: string
  app_metadata?: Record<string, unknown>
  user_metadata?: Record<string, unknown>
}

type JsonType = 'string' | 'boolean' | 'object'

const CREATE_FIELDS: Record<string, JsonType> = {
  connection: 'string',
  email: 'string',
  username: 'string',
  password: 'string',
  user_id: 'string',
  name: 'string',
  nickname: 'string',
  given_name: 'string',
  family_name: 'string',
  picture: 'string',
  phone_number: 'string',
  blocked: 'boolean',
  email_verified: 'boolean',
  verify_email: 'boolean',
  app_metadata: 'object',
  user_metadata: 'object',
}

// A user's id cannot change.
const { user_id: _immutableId, ...UPDATABLE_FIELDS } = CREATE_FIELDS
const PATCH_FIELDS: Record<string, JsonType> = { ...UPDATABLE_FIELDS, client_id: 'string' }

/** Root attributes a PATCH may unset with `null` (the others cannot be absent). */
const NULLABLE_ON_PATCH = new Set([
  'blocked',
  'username',
  'given_name',
  'family_name',
  'phone_number',
  'app_metadata',
  'user_metadata',
])

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
/** Auth0's username alphabet; length capped at Auth0's maximum setting. */
const USERNAME_PATTERN = /^[A-Za-z0-9_+\-.!#$'^`~@]{1,128}$/

export const isEmail = (value: string): boolean => EMAIL_PATTERN.test(value)
const isValidUsername = (value: string): boolean => USERNAME_PATTERN.test(value)

export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

/** First-level merge of Auth0 metadata: a `null` value removes the key. */
export function mergeMetadata(
  current: Record<string, unknown> | undefined,
  changes: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...current }
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete merged[key]
    else merged[key] = structuredClone(value)
  }
  return merged
}

function gravatar(email: string): string {
  const hash = createHash('md5').update(email).digest('hex')
  return `https://s.gravatar.com/avatar/${hash}?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2F${email.slice(0, 2)}.png`
}

function checkFields(body: Record<string, unknown>, allowed: Record<string, JsonType>, nullable: Set<string>): void {
  const extra = Object.keys(body).filter((key) => !Object.hasOwn(allowed, key))
  if (extra.length > 0) throw invalidBody(`Payload validation error: 'Additional properties not allowed: ${extra.join(',')}'.`)
  for (const [key, value] of Object.entries(body)) {
    const expected = allowed[key]
    if (value === null && nullable.has(key)) continue
    if (expected !== undefined && jsonTypeOf(value) !== expected) {
      throw invalidBody(`Payload validation error: 'Expected type ${expected} but found type ${jsonTypeOf(value)}' on property ${key}.`)
    }
  }
}

function checkEmail(email: string): void {
  if (!isEmail(email)) {
    throw invalidBody(`Payload validation error: 'Object didn't pass validation for format email: ${email}' on property email (The user's email).`)
  }
}

function checkUsername(username: string, requiresUsername: boolean): void {
  if (!requiresUsername) throw invalidBody('Cannot set username for connection without requires_username')
  if (!isValidUsername(username)) {
    throw invalidBody(`Payload validation error: 'String does not match pattern ${USERNAME_PATTERN.source}: ${username}' on property username.`)
  }
}

const weakPassword = () => invalidBody('PasswordStrengthError: Password is too weak')
const userExists = () => managementError(409, 'The user already exists.', 'auth0_idp_error')
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined)

/** Users of each connection by one unique key (email or username). */
class KeyIndex {
  private readonly byConnection = new Map<string, Map<string, StoredUser>>()

  get(connection: string, key: string): StoredUser | undefined {
    return this.byConnection.get(connection)?.get(key)
  }

  add(connection: string, key: string | undefined, user: StoredUser): void {
    if (key === undefined) return
    let keys = this.byConnection.get(connection)
    if (!keys) this.byConnection.set(connection, (keys = new Map()))
    keys.set(key, user)
  }

  /** Forgets `key` only while it names this user. */
  delete(connection: string, key: string | undefined, user: StoredUser): void {
    if (key === undefined) return
    const keys = this.byConnection.get(connection)
    if (keys?.get(key) !== user) return
    keys.delete(key)
    if (keys.size === 0) this.byConnection.delete(connection)
  }

  clear(): void {
    this.byConnection.clear()
  }
}

export class UserStore {
  private readonly users = new Map<string, StoredUser>()
  /** Emails are stored lowercased, so they are the keys as they are. */
  private readonly byEmail = new KeyIndex()
  private readonly byUsername = new KeyIndex()

  constructor(
    private readonly options: () => ResolvedOptions,
    private readonly clock: () => number = Date.now,
  ) {}

  get(userId: string): StoredUser | undefined {
    return this.users.get(userId)
  }

  all(): StoredUser[] {
    return [...this.users.values()]
  }

  findByEmail(connection: string, email: string): StoredUser | undefined {
    return this.byEmail.get(connection, email.toLowerCase())
  }

  findByUsername(connection: string, username: string): StoredUser | undefined {
    return this.byUsername.get(connection, username)
  }

  /** Login name lookup: Auth0 database connections accept email or username. */
  findByLogin(connection: string, login: string): StoredUser | undefined {
    return this.findByEmail(connection, login) ?? this.findByUsername(connection, login)
  }

  /** `POST /users` with Auth0's validation. */
  create(body: unknown): Auth0User {
    if (!isPlainObject(body, 'any')) throw invalidBody(`Payload validation error: 'Expected type object but found type ${jsonTypeOf(body)}'.`)
    checkFields(body, CREATE_FIELDS, new Set())
    const options = this.options()
    const connection = resolveConnection(options, body.connection)
    const requiresUsername = options.connections[connection]?.requiresUsername ?? false
    const email = str(body.email)
    if (email === undefined) throw invalidBody("Payload validation error: 'Missing required property: email'.")
    checkEmail(email)
    const password = str(body.password)
    if (password === undefined) throw invalidBody("Payload validation error: 'Missing required property: password'.")
    if (!options.passwordPolicy(password)) throw weakPassword()
    const username = str(body.username)
    if (username !== undefined) checkUsername(username, requiresUsername)
    else if (requiresUsername) throw invalidBody("Payload validation error: 'Missing required property: username'.")
    const user = this.insert({
      connection,
      email,
      idPart: str(body.user_id) ?? hex24(),
      password,
      username,
      email_verified: body.email_verified as boolean | undefined,
      blocked: body.blocked as boolean | undefined,
      name: str(body.name),
      nickname: str(body.nickname),
      picture: str(body.picture),
      given_name: str(body.given_name),
      family_name: str(body.family_name),
      phone_number: str(body.phone_number),
      app_metadata: body.app_metadata as Record<string, unknown> | undefined,
      user_metadata: body.user_metadata as Record<string, unknown> | undefined,
    })
    return structuredClone(user.profile)
  }

  /** Test helper: no password policy or username rules, uniqueness still enforced. */
  seed(input: SeedUserInput): Auth0User {
    const connection = resolveConnection(this.options(), input.connection)
    const idPart = input.user_id?.startsWith(AUTH0_USER_ID_PREFIX) ? input.user_id.slice(AUTH0_USER_ID_PREFIX.length) : input.user_id
    const user = this.insert({ ...input, connection, idPart: idPart ?? hex24() }, 0)
    if (input.created_at !== undefined) user.profile.created_at = input.created_at
    return structuredClone(user.profile)
  }

  /**
   * Stores a new user; 409 when the email or username is taken in the connection or the id in
   * the tenant. Visible to search after `visibilityDelayMs` (default: the configured delay).
   */
  insert(fields: NewUserFields, visibilityDelayMs = this.options().searchVisibilityDelayMs): StoredUser {
    const email = fields.email.toLowerCase()
    const userId = AUTH0_USER_ID_PREFIX + fields.idPart
    if (
      this.users.has(userId) ||
      this.findByEmail(fields.connection, email) ||
      (fields.username !== undefined && this.findByUsername(fields.connection, fields.username))
    ) {
      throw userExists()
    }
    const nowMs = this.clock()
    const now = isoMillis(nowMs)
    const profile: Auth0User = {
      user_id: userId,
      email,
      email_verified: fields.email_verified ?? false,
      ...(fields.username !== undefined && { username: fields.username }),
      created_at: now,
      updated_at: now,
      identities: [{ connection: fields.connection, user_id: fields.idPart, provider: 'auth0', isSocial: false }],
      name: fields.name ?? email,
      nickname: fields.nickname ?? email.split('@')[0] ?? email,
      picture: fields.picture ?? gravatar(email),
      ...(fields.given_name !== undefined && { given_name: fields.given_name }),
      ...(fields.family_name !== undefined && { family_name: fields.family_name }),
      ...(fields.phone_number !== undefined && { phone_number: fields.phone_number }),
      ...(fields.blocked !== undefined && { blocked: fields.blocked }),
      ...(fields.app_metadata !== undefined && { app_metadata: structuredClone(fields.app_metadata) }),
      ...(fields.user_metadata !== undefined && { user_metadata: structuredClone(fields.user_metadata) }),
    }
    const stored: StoredUser = { profile, connection: fields.connection, visibleAtMs: nowMs + visibilityDelayMs }
    if (fields.password !== undefined) stored.password = fields.password
    this.users.set(userId, stored)
    this.byEmail.add(stored.connection, profile.email, stored)
    this.byUsername.add(stored.connection, profile.username, stored)
    return stored
  }

  /** `PATCH /users/:id` with Auth0's semantics. Validates everything first. */
  patch(userId: string, body: unknown): Auth0User {
    const user = this.users.get(userId)
    if (!user) throw managementError(404, 'The user does not exist.', 'inexistent_user')
    if (!isPlainObject(body, 'any')) throw invalidBody(`Payload validation error: 'Expected type object but found type ${jsonTypeOf(body)}'.`)
    checkFields(body, PATCH_FIELDS, NULLABLE_ON_PATCH)
    const options = this.options()
    if (body.connection !== undefined && body.connection !== user.connection) {
      throw invalidBody(`The user does not have an identity in connection ${String(body.connection)}`)
    }
    const requiresUsername = options.connections[user.connection]?.requiresUsername ?? false
    const email = str(body.email)?.toLowerCase()
    if (email !== undefined) {
      checkEmail(email)
      const owner = this.findByEmail(user.connection, email)
      if (owner && owner !== user) throw managementError(400, 'The specified new email already exists', 'auth0_idp_error')
    }
    if (body.username === null && requiresUsername) throw invalidBody("Payload validation error: 'Expected type string but found type null' on property username.")
    const username = str(body.username)
    if (username !== undefined) {
      checkUsername(username, requiresUsername)
      const owner = this.findByUsername(user.connection, username)
      if (owner && owner !== user) throw managementError(400, 'The specified new username already exists', 'auth0_idp_error')
    }
    const password = str(body.password)
    if (password !== undefined && !options.passwordPolicy(password)) throw weakPassword()

    const before = { email: user.profile.email, username: user.profile.username }
    const profile = user.profile as unknown as Record<string, unknown>
    for (const [key, value] of Object.entries(body)) {
      if (key === 'password' || key === 'connection' || key === 'verify_email' || key === 'client_id') continue
      if (key === 'app_metadata' || key === 'user_metadata') {
        if (value === null) delete profile[key]
        else profile[key] = mergeMetadata(profile[key] as Record<string, unknown> | undefined, value as Record<string, unknown>)
      } else if (value === null) {
        delete profile[key]
      } else if (key !== 'email') {
        profile[key] = structuredClone(value)
      }
    }
    if (email !== undefined && email !== user.profile.email) {
      user.profile.email = email
      // Auth0 marks a changed email unverified unless the same call says otherwise.
      user.profile.email_verified = body.email_verified === true
    }
    if (password !== undefined) user.password = password
    user.profile.updated_at = isoMillis(this.clock())
    this.reindex(user, before)
    return structuredClone(user.profile)
  }

  /** Moves a user's index entries after its email or username changed. */
  private reindex(user: StoredUser, before: { email: string; username: string | undefined }): void {
    const { email, username } = user.profile
    if (email !== before.email) {
      this.byEmail.delete(user.connection, before.email, user)
      this.byEmail.add(user.connection, email, user)
    }
    if (username !== before.username) {
      this.byUsername.delete(user.connection, before.username, user)
      this.byUsername.add(user.connection, username, user)
    }
  }

  delete(userId: string): boolean {
    const user = this.users.get(userId)
    if (!user) return false
    this.users.delete(userId)
    this.byEmail.delete(user.connection, user.profile.email, user)
    this.byUsername.delete(user.connection, user.profile.username, user)
    return true
  }

  recordLogin(user: StoredUser): void {
    const now = isoMillis(this.clock())
    user.profile.last_login = now
    user.profile.logins_count = (user.profile.logins_count ?? 0) + 1
    user.profile.updated_at = now
  }

  clear(): void {
    this.users.clear()
    this.byEmail.clear()
    this.byUsername.clear()
  }
}
