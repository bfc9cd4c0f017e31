// createUmsClient: a small facade over openapi-fetch, typed by the generated document types. Each
// method returns the documented body of the success answer, or throws UmsError.
import createClient from 'openapi-fetch'
import type { paths } from './openapi.js'
import { settle, type Api } from './call.js'
import { jobsGroup } from './jobs.js'
import { meGroup } from './me.js'
import { multipartUpload, type CsvSource, type UploadProgress } from './multipart.js'
import type {
  CreateUserOptions,
  CreatedUser,
  Credentials,
  ImportFields,
  ImportResult,
  NewUser,
  RegistrationAccepted,
  SelfRegistration,
  StateChanges,
  Tokens,
  User,
  UserPatch,
  Userinfo,
  UsersQuery,
  CrudQuery,
} from './types.js'

export interface UmsClientOptions {
  /** Where ums answers, with SERVICE_PREFIX if it has one: `http://localhost:3000`. */
  baseUrl: string
  /** Sent on every call (the platform headers, `authorization`, ...). */
  headers?: Record<string, string>
  /** A fetch of your own (a proxy agent, a test double); the global fetch otherwise. */
  fetch?: (request: Request) => Promise<Response>
}

/** The query with `_q` as the JSON text the route takes. */
function crudQuery(query: UsersQuery = {}): CrudQuery {
  const { _q, ...rest } = query
  return _q === undefined ? rest : { ...rest, _q: typeof _q === 'string' ? _q : JSON.stringify(_q) }
}

export interface ImportOptions extends ImportFields {
  /** Called as the upload's bytes are handed to fetch. */
  onProgress?: (progress: UploadProgress) => void
  signal?: AbortSignal
}

function usersGroup(api: Api) {
  const byId = (id: string) => ({ params: { path: { id } } })
  return {
    /** GET /users/: a page of users (the CRUD's query parameters pass through). */
    list: (query?: UsersQuery): Promise<User[]> => settle(api.GET('/users/', { params: { query: crudQuery(query) } })),
    /** GET /users/count */
    count: (query?: UsersQuery): Promise<number> => settle(api.GET('/users/count', { params: { query: crudQuery(query) } })),
    /** GET /users/{id}; `query` may ask for another state (`_st`) or some fields (`_p`). */
    get: (id: string, query?: UsersQuery): Promise<User> => settle(api.GET('/users/{id}', { params: { path: { id }, query: crudQuery(query) } })),
    /** POST /users/: the CRUD user, its auth user (unless postponed), roles, expiry timer, email. */
    create: (body: NewUser, options?: CreateUserOptions): Promise<CreatedUser> => settle(api.POST('/users/', { body, params: { query: options ?? {} } })),
    /** PATCH /users/{id} with update operators; the updated user. */
    patch: (id: string, operators: UserPatch): Promise<User> => settle(api.PATCH('/users/{id}', { ...byId(id), body: operators })),
    /** DELETE /users/{id} */
    delete: async (id: string): Promise<void> => {
      await settle(api.DELETE('/users/{id}', byId(id)))
    },
    /** POST /users/state: the number of users moved. */
    changeState: (changes: StateChanges): Promise<number> => settle(api.POST('/users/state', { body: changes })),
    /** POST /users/{id}/force-password-reset: a random password at once, then the change-password email. */
    forcePasswordReset: async (id: string): Promise<void> => {
      await settle(api.POST('/users/{id}/force-password-reset', byId(id)))
    },
    /** POST /users/self-register: the same answer whether or not the account already existed. */
    selfRegister: (body: SelfRegistration): Promise<RegistrationAccepted> => settle(api.POST('/users/self-register', { body })),
    /** POST /users/{id}/soft-delete (call again to resume after a partial failure). */
    softDelete: async (id: string): Promise<void> => {
      await settle(api.POST('/users/{id}/soft-delete', byId(id)))
    },
    /** PATCH /users/import: a CSV file (a path) or its contents, streamed as it is sent. */
    importCsv: async (file: CsvSource, options: ImportOptions = {}): Promise<ImportResult> => {
      const { onProgress, signal, ...fields } = options
      const upload = await multipartUpload(file, fields, onProgress)
      return settle(
        api.PATCH('/users/import', {
          // The typed form is what the route documents; the bytes sent are the stream's.
          body: { ...fields, file: typeof file === 'string' ? file : 'users.csv' },
          bodySerializer: () => upload.body,
          headers: { 'content-type': upload.contentType },
          // A stream body needs it (fetch sends it as it is read).
          duplex: 'half',
          ...(signal ? { signal } : {}),
        }),
        signal,
      )
    },
  }
}

function authGroup(api: Api) {
  const bearer = (accessToken: string | undefined) => (accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` })
  return {
    /** POST /oauth/token: the tokens; `{}` in website mode (client-type: website), where the session is a cookie. */
    login: async (credentials: Credentials): Promise<Tokens> => (await settle(api.POST('/oauth/token', { body: credentials }))) ?? {},
    /** POST /refreshtoken: new tokens for a refresh token and the (possibly expired) access token of the same login. */
    refresh: async (refreshToken: string, accessToken?: string): Promise<Tokens> =>
      (await settle(api.POST('/refreshtoken', { body: { refreshToken }, headers: bearer(accessToken) }))) ?? {},
    /** GET /userinfo: the auth profile with the CRUD properties; the client's headers carry the session unless `accessToken` is given. */
    userinfo: (accessToken?: string): Promise<Userinfo> => settle(api.GET('/userinfo', { headers: bearer(accessToken) })),
    /** POST /logout: ends the session the client's headers carry, or that of `accessToken`. */
    logout: async (accessToken?: string): Promise<void> => {
      await settle(api.POST('/logout', { headers: bearer(accessToken) }))
    },
  }
}

export function createUmsClient(options: UmsClientOptions) {
  const api: Api = createClient<paths>({
    baseUrl: options.baseUrl,
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  })
  return {
    users: usersGroup(api),
    jobs: jobsGroup(api),
    auth: authGroup(api),
    me: meGroup(api),
    /** The openapi-fetch client underneath, typed by the document, for the routes the facade leaves out. */
    api,
  }
}

export type UmsClient = ReturnType<typeof createUmsClient>
