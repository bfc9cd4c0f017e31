// Group schemas from ums-config: compiled once with ajv (formats on), cached per userGroup with a
// short TTL, concurrent first reads of one group sharing a single CRUD call.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { CallContext } from '../clients/http.js'
import type { CrudCollection } from '../clients/crud.js'
import { HttpError, badRequest } from '../errors/index.js'
import { SERVER_MANAGED_FIELDS } from './users/fields.js'
import { isPlainObject } from '../lib/plain-object.js'

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

/**
 * Fields every user may carry whatever its group schema says, with their types. They are added to
 * a group schema that does not declare them, so `additionalProperties: false` keeps working.
 */
export const STANDARD_USER_FIELDS: Record<string, object> = {
  userGroup: { type: 'string', minLength: 1 },
  username: { type: 'string' },
  email: { type: 'string' },
  blocked: { type: 'boolean' },
  roles: { type: 'array', items: { type: 'string' } },
  expirationDate: { type: 'string', format: 'date-time' },
}

export interface UserGroup {
  userGroup: string
  authUserCreationDisabled: boolean
  /** The effective schema's `properties` (standard user fields included), e.g. to type CSV cells. */
  properties: Readonly<Record<string, unknown>>
  /** Undefined when `user` is valid, else a message naming the first failing field. */
  validate(user: Record<string, unknown>): string | undefined
}

interface GroupDocument {
  userGroup: string
  crudSchema?: unknown
  authUserCreationDisabled?: unknown
}


function describe(error: ErrorObject): string {
  const path = `body${error.instancePath.replace(/\//g, '.')}`
  const extra = error.params as { additionalProperty?: string }
  if (error.keyword === 'additionalProperties' && extra.additionalProperty) {
    return `${path} must NOT have additional properties (property "${extra.additionalProperty}")`
  }
  return `${path} ${error.message ?? 'is invalid'}`
}

export class GroupSchemaCache {
  private readonly ajv: Ajv
  private readonly entries = new Map<string, { expiresAt: number; group: Promise<UserGroup> }>()

  constructor(
    private readonly umsConfig: CrudCollection,
    private readonly ttlMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {
    this.ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false })
    addFormats(this.ajv)
  }

  /** The group named `userGroup`; 400 `Unknown userGroup <name>` when ums-config has none. */
  get(userGroup: string, ctx: CallContext): Promise<UserGroup> {
    const cached = this.entries.get(userGroup)
    if (cached && cached.expiresAt > this.now()) return cached.group
    const group = this.load(userGroup, ctx)
    this.entries.set(userGroup, { expiresAt: this.now() + this.ttlMs, group })
    // A failed load (unknown group, CRUD down) is not cached: the next request asks again.
    group.catch(() => {
      if (this.entries.get(userGroup)?.group === group) this.entries.delete(userGroup)
    })
    return group
  }

  private async load(userGroup: string, ctx: CallContext): Promise<UserGroup> {
    const document = await this.umsConfig.findOne<GroupDocument>({ userGroup }, ctx)
    if (!document) throw badRequest(`Unknown userGroup ${userGroup}`, 'UMS_UNKNOWN_GROUP')
    const { validator, properties } = this.compile(document)
    return {
      userGroup,
      authUserCreationDisabled: document.authUserCreationDisabled === true,
      properties,
      validate: (user) => {
        const candidate = { ...user }
        for (const field of SERVER_MANAGED_FIELDS) delete candidate[field]
        if (validator(candidate)) return undefined
        const [first] = validator.errors ?? []
        return first ? describe(first) : 'body does not match the group schema'
      },
    }
  }

  private compile(document: GroupDocument): { validator: ValidateFunction; properties: Record<string, unknown> } {
    const schema = isPlainObject(document.crudSchema, 'not-date') ? structuredClone(document.crudSchema) : {}
    delete schema.$id
    const properties = isPlainObject(schema.properties, 'not-date') ? schema.properties : {}
    for (const [field, fieldSchema] of Object.entries(STANDARD_USER_FIELDS)) {
      if (!(field in properties)) properties[field] = fieldSchema
    }
    schema.properties = properties
    schema.type ??= 'object'
    try {
      return { validator: this.ajv.compile(schema), properties }
    } catch (error) {
      // A broken schema in ums-config is a configuration fault, not the caller's.
      throw new HttpError(500, `Invalid crudSchema of userGroup ${document.userGroup}: ${(error as Error).message}`, 'UMS_INVALID_GROUP_SCHEMA')
    }
  }
}
