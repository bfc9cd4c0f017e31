// What a bulk activation reports: per-user failures with their codes, and the summary.

export interface BulkActivationFailure {
  /** The CRUD `_id`. */
  userId: string
  errors: Array<{ code: string; message: string }>
}

export interface BulkActivationResult {
  /**
   * `total = inserted + updated + failed` (Auth0's arithmetic), over the users that needed an
   * auth user. **Beyond**: `skipped` counts the users left alone because they already had an
   * `authUserId`; they are not failures and not in `total`.
   */
  summary: { failed: number; updated: number; inserted: number; total: number; skipped: number }
  failures: BulkActivationFailure[]
}

/** Failure codes ums adds to Auth0's own (which are copied verbatim). */
export const ACTIVATION_ERROR_CODES = {
  userNotFound: 'USER_NOT_FOUND',
  emailMissing: 'EMAIL_MISSING',
  userTooLarge: 'USER_TOO_LARGE',
  importRejected: 'IMPORT_REJECTED',
  importStartFailed: 'IMPORT_START_FAILED',
  importJobFailed: 'IMPORT_JOB_FAILED',
  importJobExpired: 'IMPORT_JOB_EXPIRED',
  importJobNotFound: 'IMPORT_JOB_NOT_FOUND',
  importJobUnreachable: 'IMPORT_JOB_UNREACHABLE',
  authUserNotResolved: 'AUTH_USER_NOT_RESOLVED',
  authBlockFailed: 'AUTH_BLOCK_FAILED',
  crudUpdateFailed: 'CRUD_UPDATE_FAILED',
} as const

export function failure(userId: string, code: string, message: string): BulkActivationFailure {
  return { userId, errors: [{ code, message }] }
}
