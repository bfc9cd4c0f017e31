// Request schemas of the job routes that the services take as input, with the types derived from
// them. The list bound comes from the configuration, hence a function.
import type { FromSchema } from 'json-schema-to-ts'

export function changePasswordBulkBody(maxUsers: number) {
  return {
    type: 'object',
    required: ['authUsersIds'],
    properties: { authUsersIds: { type: 'array', minItems: 1, maxItems: maxUsers, items: { type: 'string', minLength: 1 } } },
    additionalProperties: false,
  } as const
}

export const reconcileBody = {
  type: 'object',
  properties: {
    dryRun: { type: 'boolean', default: true, description: 'only report (default)' },
    deleteOrphanAuthUsers: { type: 'boolean', default: false, description: 'delete the auth users of the connection no CRUD user points to' },
  },
  additionalProperties: false,
} as const

export type ChangePasswordBulkBody = FromSchema<ReturnType<typeof changePasswordBulkBody>>
export type ReconcileBody = FromSchema<typeof reconcileBody>
