// The conventions on the Auth0 Client's API that neither Mia-Platform nor Auth0 publish, which
// this project settled on. Our auth0Client module and our Auth0 Client emulator both read them from here,
// so correcting one against a live deployment corrects both.

/** Change-password email route. Body `{email, connection?}`. */
export const CHANGE_PASSWORD_PATH = '/change-password'

/** Query parameter carrying a MongoDB-style filter on `GET /users`. */
export const USERS_FILTER_QUERY_PARAM = '_q'

/** Ids per `GET /users?_q={"user_id":{"$in":[…]}}` lookup. */
export const MAX_IDS_PER_USERS_LOOKUP = 100

/** Auth0 caps a users-import file at 500 KB. */
export const IMPORT_FILE_MAX_BYTES = 500 * 1024

/** Auth0 runs at most this many import jobs per tenant at once. */
export const MAX_ACTIVE_IMPORT_JOBS = 2

/** Job statuses of `GET /users/import/status/:jobID`. */
export const IMPORT_JOB_STATUSES = ['pending', 'processing', 'completed', 'failed', 'expired'] as const
export type ImportJobStatus = (typeof IMPORT_JOB_STATUSES)[number]

/** Prefix Auth0 prepends to database-connection user ids. */
export const AUTH0_USER_ID_PREFIX = 'auth0|'

/** Error body shape the emulator uses for errors it originates. */
export interface MiaErrorBody {
  statusCode: number
  error: string
  message: string
}
