// Request schemas of the user routes that the services take as input, with the types derived from
// them: what the route validates is what the service is typed to receive.
import type { FromSchema } from 'json-schema-to-ts'
import { CRUD_STATES } from '../clients/crud.js'
import { STANDARD_USER_FIELDS } from '../services/group-schemas.js'

const sendResetPwdEmail = { type: 'boolean', default: true, description: 'false: no change-password email' } as const

export const newUserBody = {
  type: 'object',
  required: ['userGroup'],
  properties: {
    ...STANDARD_USER_FIELDS,
    password: { type: 'string', minLength: 1, description: 'Sent to the auth service only, never stored in the CRUD' },
  },
  additionalProperties: true,
} as const

export const createUserQuery = {
  type: 'object',
  properties: { postponeAuthUserCreation: { type: 'boolean', default: false }, sendResetPwdEmail },
} as const

export const newUserWithIdBody = {
  ...newUserBody,
  required: ['userGroup', 'authUserId'],
  properties: { ...newUserBody.properties, authUserId: { type: 'string', minLength: 1 } },
} as const

export const registerUserBody = {
  type: 'object',
  required: ['_id'],
  properties: { _id: { type: 'string', minLength: 1 }, password: { type: 'string', minLength: 1 } },
  additionalProperties: false,
} as const

export const registerUserQuery = { type: 'object', properties: { sendResetPwdEmail } } as const

export const stateChangesBody = {
  type: 'array',
  minItems: 1,
  items: {
    type: 'object',
    required: ['filter', 'stateTo'],
    properties: { filter: { type: 'object' }, stateTo: { type: 'string', enum: [...CRUD_STATES] } },
    additionalProperties: false,
  },
} as const

export type NewUserBody = FromSchema<typeof newUserBody>
export type CreateOptions = FromSchema<typeof createUserQuery>
export type NewUserWithIdBody = FromSchema<typeof newUserWithIdBody>
export type RegisterUserBody = FromSchema<typeof registerUserBody>
export type RegisterOptions = FromSchema<typeof registerUserQuery>
export type StateChanges = FromSchema<typeof stateChangesBody>
