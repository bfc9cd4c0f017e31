// From a CSV record to a user ready to be written (or the reason it is skipped): userGroup
// present and known, no server-managed field, cells typed and validated with the group schema.
// Messages name fields and rules, never cell values (they may be personal data).
import type { CallContext } from '../../clients/http.js'
import { HttpError } from '../../errors/index.js'
import type { GroupSchemaCache, UserGroup } from '../group-schemas.js'
import { SERVER_MANAGED_FIELDS } from '../users/fields.js'
import { typeRecord } from './typing.js'

export interface RowError {
  /** 1 for the first data row. */
  row: number
  error: string
}

export interface ImportRow {
  row: number
  /** The CSV `_id`: the row patches that user; without it the row is inserted. */
  id: string | undefined
  /** The typed user fields (no `_id`). */
  user: Record<string, unknown>
}

/** Cells a file may not fill: `_id` selects the user to patch, the others are never client-writable. */
const NOT_IMPORTABLE = SERVER_MANAGED_FIELDS.filter((field) => field !== '_id')

export const skipping = (reason: string) => `Skipping record: ${reason}`

/** `body.age must be number` → `age must be number`; a missing field reads like the original's. */
export function schemaProblem(problem: string): string {
  const required = /^body(?:\.(\S+))? must have required property '([^']+)'$/.exec(problem)
  if (required) return `missing required field ${required[1] ? `${required[1]}.` : ''}${required[2]}`
  return problem.replace(/^body\./, '').replace(/^body /, '')
}

/** The groups of one import: each loaded once; an unknown one remembered as such. */
export class ImportGroups {
  private readonly groups = new Map<string, Promise<UserGroup | undefined>>()

  constructor(
    private readonly cache: GroupSchemaCache,
    private readonly ctx: CallContext,
  ) {}

  get(name: string): Promise<UserGroup | undefined> {
    let group = this.groups.get(name)
    if (!group) {
      group = this.cache.get(name, this.ctx).catch((error: unknown) => {
        if (error instanceof HttpError && error.code === 'UMS_UNKNOWN_GROUP') return undefined
        throw error
      })
      this.groups.set(name, group)
    }
    return group
  }
}

/** The row to write, or the reason it is skipped. Upstream failures (ums-config unreachable) throw. */
export async function prepareRow(
  record: Readonly<Record<string, string | undefined>>,
  row: number,
  groups: ImportGroups,
): Promise<ImportRow | RowError> {
  const userGroup = record.userGroup
  if (userGroup === undefined || userGroup.trim() === '') return { row, error: skipping('userGroup missing on csv record') }
  for (const field of NOT_IMPORTABLE) {
    const value = record[field]
    if (value !== undefined && value !== '') return { row, error: skipping(`${field} cannot be set`) }
  }
  const group = await groups.get(userGroup)
  if (!group) return { row, error: skipping('unknown userGroup') }
  const { _id: rawId, ...cells } = record
  const id = rawId?.trim() || undefined
  const user = typeRecord(cells, group.properties)
  const problem = group.validate(user)
  if (problem) return { row, error: skipping(`invalid json schema, ${schemaProblem(problem)}`) }
  return { row, id, user }
}
