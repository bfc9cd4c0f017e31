// The PATCH /users/:id body and its type, apart from users.ts: that one imports group-schemas.ts,
// which imports src/services/users/fields.ts, which needs this type (one module would be a cycle).
import type { FromSchema } from 'json-schema-to-ts'

export const PATCH_OPERATORS = ['$set', '$unset', '$inc', '$mul', '$currentDate', '$push', '$pull', '$addToSet'] as const

/** Update operators, documented; the service says which are missing or unsupported. */
export const userPatchBody = {
  type: 'object',
  // Object.fromEntries types its keys as string: the cast keeps each operator for FromSchema.
  properties: Object.fromEntries(PATCH_OPERATORS.map((operator) => [operator, { type: 'object' }])) as Record<(typeof PATCH_OPERATORS)[number], { readonly type: 'object' }>,
  additionalProperties: true,
} as const

export type UserPatch = FromSchema<typeof userPatchBody>
