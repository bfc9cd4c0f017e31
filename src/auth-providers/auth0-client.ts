// The `auth0Client` module: every call ums makes to the Mia-Platform Auth0 Client. The project's
// own conventions on that API come from auth0-contract.ts.
import { FormData } from 'undici'
import type { CallContext, PeerRequest } from '../clients/http.js'
import { SESSION_CREDENTIAL_HEADERS, pickHeaders, withoutAclHeaders } from '../clients/headers.js'
import {
  CHANGE_PASSWORD_PATH,
  MAX_IDS_PER_USERS_LOOKUP,
  USERS_FILTER_QUERY_PARAM,
} from './auth0-contract.js'
import type {
  AuthProvider,
  AuthProviderDeps,
  AuthUserChanges,
  ImportError,
  LogoutAnswer,
  ImportJob,
  ImportUser,
  NewAuthUser,
  SessionAnswer,
} from './provider.js'

function setCookieList(value: string | string[] | undefined): string[] {
  if (value === undefined) return []
  return Array.isArray(value) ? value : [value]
}

export class Auth0ClientProvider implements AuthProvider {
  readonly name = 'auth0Client'
  private readonly connection: string

  constructor(private readonly deps: AuthProviderDeps) {
    this.connection = deps.config.authConnection
  }

  /** Never sends the CRUD ACL headers: the Auth0 Client would AND them into its user search. */
  private call<T>(request: Omit<PeerRequest, 'forwarded'>, ctx: CallContext) {
    return this.deps.http.call<T>({ ...request, forwarded: withoutAclHeaders(ctx.forwarded) }, ctx)
  }

  /** Session calls carry the end user's credentials exactly as received. */
  private sessionHeaders(ctx: CallContext) {
    return pickHeaders(ctx.incoming, SESSION_CREDENTIAL_HEADERS)
  }

  async login(credentials: { username: string; password: string }, ctx: CallContext): Promise<SessionAnswer> {
    const response = await this.call(
      {
        method: 'POST',
        path: '/oauth/token',
        route: '/oauth/token',
        form: { grant_type: 'password', username: credentials.username, password: credentials.password, connection: this.connection },
        headers: this.sessionHeaders(ctx),
      },
      ctx,
    )
    return { status: response.status, body: response.body, setCookie: setCookieList(response.headers['set-cookie']) }
  }

  async refresh(refreshToken: string, ctx: CallContext): Promise<SessionAnswer> {
    const response = await this.call(
      { method: 'POST', path: '/refreshtoken', route: '/refreshtoken', json: { refresh_token: refreshToken }, headers: this.sessionHeaders(ctx) },
      ctx,
    )
    return { status: response.status, body: response.body, setCookie: setCookieList(response.headers['set-cookie']) }
  }

  async userinfo(ctx: CallContext): Promise<Record<string, unknown>> {
    const response = await this.call<Record<string, unknown>>(
      { method: 'GET', path: '/userinfo', route: '/userinfo', headers: this.sessionHeaders(ctx) },
      ctx,
    )
    return response.body
  }

  /** The session ends at the auth service: the token or cookie stops working at once. */
  async logout(redirect: string | undefined, ctx: CallContext): Promise<LogoutAnswer> {
    const response = await this.call(
      {
        method: 'GET',
        path: '/logout',
        route: '/logout',
        ...(redirect !== undefined ? { query: { redirect } } : {}),
        headers: this.sessionHeaders(ctx),
        // The logout answers browsers with a redirect: ums relays it rather than following it.
        acceptStatus: [301, 302, 303, 307, 308],
      },
      ctx,
    )
    const location = response.headers.location
    return { status: response.status, location: typeof location === 'string' ? location : undefined, setCookie: setCookieList(response.headers['set-cookie']) }
  }

  /**
   * A password-grant login without the caller's session credentials: only whether the service
   * accepted the password matters, and the tokens it answers are discarded. Refused credentials
   * answer 403.
   */
  async verifyPassword(login: string, password: string, ctx: CallContext): Promise<boolean> {
    const response = await this.call(
      {
        method: 'POST',
        path: '/oauth/token',
        route: '/oauth/token',
        form: { grant_type: 'password', username: login, password, connection: this.connection },
        acceptStatus: [403],
      },
      ctx,
    )
    return response.status !== 403
  }

  async createUser(user: NewAuthUser, ctx: CallContext): Promise<{ authUserId: string }> {
    const body: Record<string, unknown> = { connection: this.connection, password: user.password }
    if (user.email !== undefined) body.email = user.email
    if (user.username !== undefined) body.username = user.username
    if (user.blocked !== undefined) body.blocked = user.blocked
    if (user.app_metadata !== undefined) body.app_metadata = user.app_metadata
    if (user.verify_email !== undefined) body.verify_email = user.verify_email
    const response = await this.call<{ user_id: string }>({ method: 'POST', path: '/users', route: '/users', json: body }, ctx)
    return { authUserId: response.body.user_id }
  }

  async updateUser(authUserId: string, changes: AuthUserChanges, ctx: CallContext): Promise<void> {
    await this.call(
      { method: 'PATCH', path: `/users/${encodeURIComponent(authUserId)}`, route: '/users/:userID', json: changes },
      ctx,
    )
  }

  async deleteUser(authUserId: string, ctx: CallContext): Promise<void> {
    await this.call(
      { method: 'DELETE', path: `/users/${encodeURIComponent(authUserId)}`, route: '/users/:userID', acceptStatus: [404] },
      ctx,
    )
  }

  /**
   * `GET /users?_q={"<field>":{"$in":[…]}}`, at most 100 values per call. The
   * calls go one after the other: they spend the management API budget (2/s on small tenants).
   */
  private async searchUsers(field: 'user_id' | 'email' | 'username', values: string[], ctx: CallContext): Promise<Record<string, unknown>[]> {
    const users: Record<string, unknown>[] = []
    for (let start = 0; start < values.length; start += MAX_IDS_PER_USERS_LOOKUP) {
      const chunk = values.slice(start, start + MAX_IDS_PER_USERS_LOOKUP)
      const page = await this.call<Record<string, unknown>[]>(
        {
          method: 'GET',
          path: '/users',
          route: '/users',
          query: { [USERS_FILTER_QUERY_PARAM]: JSON.stringify({ [field]: { $in: chunk } }), _l: chunk.length },
        },
        ctx,
      )
      if (Array.isArray(page.body)) users.push(...page.body)
    }
    return users
  }

  listUsersByIds(authUserIds: string[], ctx: CallContext): Promise<Record<string, unknown>[]> {
    return this.searchUsers('user_id', authUserIds, ctx)
  }

  /** Used to find the real ids of users an import updated. */
  listUsersByEmails(emails: string[], ctx: CallContext): Promise<Record<string, unknown>[]> {
    return this.searchUsers('email', emails, ctx)
  }

  listUsersByUsernames(usernames: string[], ctx: CallContext): Promise<Record<string, unknown>[]> {
    return this.searchUsers('username', usernames, ctx)
  }

  /** `_sk` is an offset, as in the CRUD Service's paging the Auth0 Client imitates. */
  async listUsersPage(page: { offset: number; limit: number }, ctx: CallContext): Promise<Record<string, unknown>[]> {
    const answer = await this.call<Record<string, unknown>[]>(
      { method: 'GET', path: '/users', route: '/users', query: { connection: this.connection, _l: page.limit, _sk: page.offset } },
      ctx,
    )
    return Array.isArray(answer.body) ? answer.body : []
  }

  async sendChangePasswordEmail(email: string, ctx: CallContext): Promise<void> {
    await this.call(
      { method: 'POST', path: CHANGE_PASSWORD_PATH, route: CHANGE_PASSWORD_PATH, json: { email, connection: this.connection } },
      ctx,
    )
  }

  async startImport(file: { users: ImportUser[]; upsert: boolean; externalId: string }, ctx: CallContext): Promise<ImportJob> {
    const form = new FormData()
    form.append('users', new Blob([JSON.stringify(file.users)], { type: 'application/json' }), 'users.json')
    form.append('upsert', String(file.upsert))
    form.append('external_id', file.externalId)
    form.append('send_completion_email', 'false')
    form.append('connection', this.connection)
    const response = await this.call<ImportJob>({ method: 'POST', path: '/users/import', route: '/users/import', multipart: form }, ctx)
    return response.body
  }

  async getImportJob(jobId: string, ctx: CallContext): Promise<ImportJob> {
    const response = await this.call<ImportJob>(
      { method: 'GET', path: `/users/import/status/${encodeURIComponent(jobId)}`, route: '/users/import/status/:jobID' },
      ctx,
    )
    return response.body
  }

  /** 200 with an array, 204 without errors, or 200 with the job object: all three handled. */
  async getImportErrors(jobId: string, ctx: CallContext): Promise<ImportError[]> {
    const response = await this.call<unknown>(
      { method: 'GET', path: `/users/import/status/${encodeURIComponent(jobId)}/errors`, route: '/users/import/status/:jobID/errors' },
      ctx,
    )
    return Array.isArray(response.body) ? (response.body as ImportError[]) : []
  }

  async checkHealth(ctx: CallContext): Promise<void> {
    await this.call({ method: 'GET', path: '/-/healthz', route: '/-/healthz' }, ctx)
  }
}
