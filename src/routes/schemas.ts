// JSON schemas shared by the route plugins: the error body and response helpers.
export const ERROR_SCHEMA_ID = 'ErrorBody'

export const errorBodySchema = {
  $id: ERROR_SCHEMA_ID,
  type: 'object',
  required: ['statusCode', 'error', 'message', 'code'],
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    message: { type: 'string' },
    code: { type: 'string', description: 'Stable error code (README, Errors): branch on it rather than on the message' },
  },
} as const

const errorRef = { $ref: `${ERROR_SCHEMA_ID}#` } as const

/** Response schema entries for the given error statuses, all with the standard error body. */
export function errorResponses(...statuses: number[]): Record<number, typeof errorRef> {
  return Object.fromEntries(statuses.map((status) => [status, errorRef]))
}

export const emptyResponse = { type: 'null', description: 'No content' } as const

/** The credentials the auth service verifies: the platform headers never identify the caller on these routes. */
export const SESSION_SECURITY: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { sessionCookie: [] }]
