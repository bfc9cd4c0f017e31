// The catalogue of the `code` every error body carries, with the status it comes with and what it
// means. Clients branch on these codes rather than on message text, so a code never changes
// meaning; README's Errors section lists the same entries (a test keeps the two in step).

interface CodeEntry {
  status: number
  meaning: string
}

export const ERROR_CODES = {
  // Requests Fastify itself refuses (its own codes, kept as they are).
  FST_ERR_VALIDATION: { status: 400, meaning: 'a body, query string or path parameter does not match the route schema; the message names the field' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, meaning: 'an empty body sent as application/json' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, meaning: 'a body sent as application/json that is not JSON' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, meaning: 'a JSON body over 16 MiB' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    meaning: 'a body in a content type the route does not accept; the message names the accepted one (application/json, multipart/form-data for the import)',
  },
  FST_ERR_NOT_FOUND: { status: 404, meaning: 'no route for this method and path' },

  // The caller's input, checked by ums.
  UMS_INVALID_REQUEST: { status: 400, meaning: 'a request that could not be read and has no more specific code (its own 4xx status is kept): a body nested more than 100 levels deep, a multipart body the parser cannot read, a body aborted before its end' },
  UMS_INVALID_QUERY: { status: 400, meaning: 'a `_q` that is not a JSON object (base64-encoded when json-query-params-encoding says so), or a query the CRUD refused on a read' },
  UMS_READ_ONLY_FIELD: { status: 400, meaning: '`authUserId`, `expirationId`, `_id` or `__STATE__` in a body' },
  UMS_INVALID_UPDATE: { status: 400, meaning: 'a PATCH body that is not a usable set of update operators ($set, $unset, …)' },
  UMS_UNKNOWN_GROUP: { status: 400, meaning: 'a `userGroup` missing from ums-config' },
  UMS_GROUP_SCHEMA_MISMATCH: { status: 400, meaning: "the user does not match its group's schema; the message names the field" },
  UMS_AUTH_USER_NOT_FOUND: { status: 400, meaning: '`POST /users/with-id` for an auth user that does not exist' },
  UMS_AUTH_CREATION_DISABLED: { status: 400, meaning: '`POST /users/register` for a user whose group has no auth users' },
  UMS_PEER_REFUSED: { status: 400, meaning: "a peer refused the caller's data; the message says why when the peer did (e.g. a field the collection does not declare)" },
  UMS_PASSWORD_TOO_WEAK: { status: 400, meaning: 'a sign-up password below `SELF_REGISTRATION_PASSWORD_POLICY` (the message says what the policy asks for); answered alike whether or not the address has an account' },
  UMS_FIELD_NOT_ALLOWED: { status: 400, meaning: "a sign-up field other than `userGroup`, `email`, `username`, `password` and the group's `selfService.editableFields` (the message names it): roles, groups and the like come from the group's defaults" },
  UMS_MISSING_FILE: { status: 400, meaning: 'a CSV import without a `file` part' },
  UMS_INVALID_IMPORT_OPTION: { status: 400, meaning: 'a CSV import `delimiter`, `encoding` or `escape` that cannot be used' },
  UMS_INVALID_CSV: { status: 400, meaning: 'a CSV file that is empty, whose header has no `userGroup` or names a column twice, or that is not CSV' },
  UMS_FILE_TOO_LARGE: { status: 413, meaning: 'a CSV file over `USER_IMPORT_MAX_FILE_SIZE`' },

  // What the caller asked for is not there, or not allowed.
  UMS_NOT_AUTHENTICATED: {
    status: 401,
    meaning:
      'no logged user: no credentials (neither `Authorization: Bearer` nor the `sid` cookie), credentials the auth service refused, or no PUBLIC, unblocked CRUD user with the logged auth user id',
  },
  UMS_FORBIDDEN: { status: 403, meaning: 'the auth service refused the login or refresh (wrong password, blocked user, invalid token)' },
  UMS_FIELD_NOT_SELF_EDITABLE: { status: 403, meaning: "`PATCH /users/me` on a field the user's group does not let its users edit (the message names it)" },
  UMS_SELF_REGISTRATION_DISABLED: { status: 403, meaning: 'a sign-up to a group that does not accept them (`selfRegistration.enabled` is not true, or the group is unknown)' },
  UMS_EMAIL_DOMAIN_NOT_ALLOWED: { status: 403, meaning: "a sign-up with an e-mail address outside the group's `selfRegistration.allowedEmailDomains`" },
  UMS_WRONG_PASSWORD: { status: 403, meaning: '`POST /users/me/change-password` with a wrong current password: nothing changed' },
  UMS_USER_NOT_FOUND: { status: 404, meaning: 'no user with this id (the CRUD `_id`; the `authUserId` for the change-password email)' },
  UMS_UNKNOWN_CONSENT: { status: 404, meaning: "a consent key the user's group does not declare" },
  UMS_JOB_NOT_FOUND: { status: 404, meaning: 'no job of this kind with this id (or it expired after `JOBS_TTL_MS`)' },
  UMS_DUPLICATE_USER: { status: 409, meaning: 'another user holds this email or username (the message names the field), or the auth user already has a CRUD user' },
  UMS_ALREADY_REGISTERED: { status: 409, meaning: '`POST /users/register` for a user that already has an auth user' },
  UMS_NO_AUTH_USER: { status: 409, meaning: '`POST /users/:id/force-password-reset` for a user without an auth user' },
  UMS_NO_EMAIL: { status: 409, meaning: '`POST /users/:id/force-password-reset` for a user without an email to send the change-password email to' },
  UMS_RATE_LIMITED: { status: 429, meaning: 'the auth service is rate limiting, or a client address sent more than `SELF_REGISTRATION_RATE_LIMIT_PER_MINUTE` sign-ups in a minute; try again after `retry-after`' },

  // ums or a peer failed.
  UMS_UPSTREAM_FAILED: { status: 500, meaning: 'a peer failed or did not answer; the message names the call, never its answer' },
  UMS_INVALID_GROUP_SCHEMA: { status: 500, meaning: "the group's `crudSchema` in ums-config is not a valid JSON schema" },
  UMS_INTERNAL_ERROR: { status: 500, meaning: 'an unexpected failure, logged with its stack; the message is masked' },
  UMS_JOB_STORE_UNAVAILABLE: { status: 503, meaning: 'the job store is unreachable, or the in-memory store is full; try again later' },
} as const satisfies Record<string, CodeEntry>

export type ErrorCode = keyof typeof ERROR_CODES

/**
 * The code of a peer status the route lets through to the caller; anything else is the route's
 * upstream failure.
 */
export const PASSED_THROUGH_CODES: Readonly<Record<number, ErrorCode>> = {
  400: 'UMS_PEER_REFUSED',
  401: 'UMS_NOT_AUTHENTICATED',
  403: 'UMS_FORBIDDEN',
  404: 'UMS_USER_NOT_FOUND',
  409: 'UMS_DUPLICATE_USER',
  429: 'UMS_RATE_LIMITED',
}

/** The job engine's 503 (src/jobs/), named here so the engine and the catalogue cannot drift apart. */
export const JOB_STORE_UNAVAILABLE: ErrorCode = 'UMS_JOB_STORE_UNAVAILABLE'
