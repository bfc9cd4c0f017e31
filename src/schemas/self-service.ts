// Request schemas of the self-service routes, with the types derived from them.
import type { FromSchema } from 'json-schema-to-ts'

/** Only `$set` and `$unset`: a user edits fields, nothing else. */
export const selfPatchBody = {
  type: 'object',
  properties: {
    $set: { type: 'object', description: 'Fields to set; each must be one the group lets its users edit' },
    $unset: { type: 'object', description: 'Fields to remove; each must be one the group lets its users edit' },
  },
  additionalProperties: false,
  minProperties: 1,
} as const

export const ownPasswordChangeBody = {
  type: 'object',
  required: ['currentPassword', 'newPassword'],
  properties: {
    currentPassword: { type: 'string', minLength: 1 },
    newPassword: { type: 'string', minLength: 1 },
  },
  additionalProperties: false,
} as const

export const consentAnswerBody = {
  type: 'object',
  required: ['granted'],
  properties: { granted: { type: 'boolean' } },
  additionalProperties: false,
} as const

export const consentParams = {
  type: 'object',
  required: ['key'],
  properties: { key: { type: 'string', minLength: 1 } },
} as const

/** The account's names and password, plus profile fields the service checks against the group. */
export const selfRegistrationBody = {
  type: 'object',
  required: ['userGroup', 'email'],
  properties: {
    userGroup: { type: 'string', minLength: 1 },
    // One @ and no spaces: internationalized domains are allowed, and the auth service checks the rest.
    email: { type: 'string', pattern: '^[^@\\s]+@[^@\\s]+$', maxLength: 320 },
    username: { type: 'string', minLength: 1 },
    password: { type: 'string', minLength: 1, description: 'Without it, the change-password email lets the user set one' },
  },
  additionalProperties: true,
} as const

export type SelfRegistrationBody = FromSchema<typeof selfRegistrationBody>
export type SelfPatch = FromSchema<typeof selfPatchBody>
export type OwnPasswordChange = FromSchema<typeof ownPasswordChangeBody>
