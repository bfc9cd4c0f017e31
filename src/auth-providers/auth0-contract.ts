// The project conventions ([PRJ] in contracts/auth0-client.md) that neither Mia-Platform nor
// Auth0 publish. Our auth0Client module and our Auth0 Client emulator both read them from here,
// so correcting one against a live deployment corrects both.

/** Change-password email route (contract §3.10). Body `{email, connection?}`. */
export const CHANGE_PASSWORD_PATH = '/change-password'

/** Query parameter carrying a MongoDB-style filter on `GET /users` (contract §3.6). */
export const USERS_FILTER_QUERY_PARAM = '_q'

/** Ids per `GET /users?_q={"user_id":{"$in":[…]}}` lookup (contract §3.6). */
export const MAX_IDS_PER_USERS_LOOKUP = 100

/** Auth0 caps a users-import file at 500 KB (contract §5.1). */
export const IMPORT_FILE_MAX_BYTES = 500 * 1024

/** Auth0 runs at most this many import jobs per tenant at once (contract §5.3). */
export const MAX_ACTIVE_IMPORT_JOBS = 2

/** Job statuses of `GET /users/import/status/:jobID` (contract §5.3). */
export const IMPORT_JOB_STATUSES = ['pending', 'processing', 'completed', 'failed', 'expired'] as const
export type ImportJobStatus = (typeof IMPORT_JOB_STATUSES)[number]

/** Prefix Auth0 prepends to database-connection user ids (contract §4). */
export const AUTH0_USER_ID_PREFIX = 'auth0|'

/** Error body shape the emulator uses for errors it originates (contract §3.0). */
export interface MiaErrorBody {
  statusCode: number
  error: string
  message: string
}
