// The AuthProvider interface: the extension point through which ums talks to an authentication
// service. Implementations live beside this file and are picked by AUTH_MODULE (index.ts).
import type { CallContext, PeerClient } from '../clients/http.js'
import type { Config } from '../config/index.js'

/** A session answer relayed to the caller as it is (token JSON, or website-mode cookies). */
export interface SessionAnswer {
  status: number
  body: unknown
  setCookie: string[]
}

/** What the platform's authorization reads of an auth user: its groups (`app_metadata.groups`). */
export interface AuthAppMetadata {
  groups: string[]
}

export interface NewAuthUser {
  email?: string
  username?: string
  password: string
  blocked?: boolean
  app_metadata?: AuthAppMetadata
  /** The auth service sends its verification email to the new address. */
  verify_email?: boolean
}

/** Only the fields ums keeps in step with the auth service, and the ones it sets on the user's behalf. */
export interface AuthUserChanges {
  email?: string
  username?: string
  blocked?: boolean
  /** Replaces `app_metadata.groups` (the service merges `app_metadata` at its first level). */
  app_metadata?: AuthAppMetadata
  password?: string
  /** With a new email: the address is unverified until its owner follows the verification email. */
  email_verified?: boolean
  verify_email?: boolean
}

/** The auth service's answer to a logout: the cookie it clears and, for browsers, where it redirects. */
export interface LogoutAnswer {
  status: number
  location: string | undefined
  setCookie: string[]
}

export interface ImportUser {
  user_id: string
  email: string
  username?: string
  email_verified: boolean
  blocked?: boolean
  app_metadata?: AuthAppMetadata
}

export interface ImportJob {
  id: string
  status: string
  summary?: { failed: number; updated: number; inserted: number; total: number }
  percentage_done?: number
}

export interface ImportError {
  user: { user_id?: string; email?: string; username?: string }
  errors: Array<{ code: string; message: string; path?: string }>
}

export interface AuthProvider {
  readonly name: string
  login(credentials: { username: string; password: string }, ctx: CallContext): Promise<SessionAnswer>
  refresh(refreshToken: string, ctx: CallContext): Promise<SessionAnswer>
  /** The logged user's profile; the user id is under CUSTOM_USER_ID_KEY. */
  userinfo(ctx: CallContext): Promise<Record<string, unknown>>
  /** Ends the session of the caller's credentials; `redirect` is the path browsers return to. */
  logout(redirect: string | undefined, ctx: CallContext): Promise<LogoutAnswer>
  /** Whether `password` is the current password of the user known by `login` (username or email). */
  verifyPassword(login: string, password: string, ctx: CallContext): Promise<boolean>
  createUser(user: NewAuthUser, ctx: CallContext): Promise<{ authUserId: string }>
  updateUser(authUserId: string, changes: AuthUserChanges, ctx: CallContext): Promise<void>
  /** Idempotent: an already missing user is a success. */
  deleteUser(authUserId: string, ctx: CallContext): Promise<void>
  /** Profiles of the given ids (missing ones are simply absent), each with its id under `user_id`. */
  listUsersByIds(authUserIds: string[], ctx: CallContext): Promise<Record<string, unknown>[]>
  /**
   * Profiles whose email is one of `emails` (case-insensitive; missing ones are simply absent),
   * each with its id under `user_id`. Used by the bulk activation to find the real ids of the
   * users an upsert import updated. Search may lag behind recent writes.
   */
  listUsersByEmails(emails: string[], ctx: CallContext): Promise<Record<string, unknown>[]>
  /**
   * Profiles whose username is one of `usernames` (missing ones are simply absent). Used to tell
   * which field of a refused new user another user already holds.
   */
  listUsersByUsernames(usernames: string[], ctx: CallContext): Promise<Record<string, unknown>[]>
  /** One page of the connection's users, in the service's order (reconciliation walks them all). */
  listUsersPage(page: { offset: number; limit: number }, ctx: CallContext): Promise<Record<string, unknown>[]>
  sendChangePasswordEmail(email: string, ctx: CallContext): Promise<void>
  startImport(file: { users: ImportUser[]; upsert: boolean; externalId: string }, ctx: CallContext): Promise<ImportJob>
  getImportJob(jobId: string, ctx: CallContext): Promise<ImportJob>
  getImportErrors(jobId: string, ctx: CallContext): Promise<ImportError[]>
  checkHealth(ctx: CallContext): Promise<void>
}

export interface AuthProviderDeps {
  config: Config
  http: PeerClient
}

export type AuthProviderFactory = (deps: AuthProviderDeps) => AuthProvider
