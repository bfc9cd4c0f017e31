// Group schemas from ums-config: compiled with ajv (formats on) once per content of the group's
// document, read again after GROUP_CONFIG_CACHE_TTL_MS, concurrent first reads of one group sharing
// a single CRUD call.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { CallContext } from '../clients/http.js'
import { CRUD_METADATA_FIELDS, type CrudCollection } from '../clients/crud.js'
import { HttpError, badRequest } from '../errors/index.js'
import { SERVER_MANAGED_FIELDS } from './users/fields.js'
import { isPlainObject } from '../lib/plain-object.js'
import { asciiDomainPattern } from '../lib/email-domains.js'

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
  /** What the platform's authorization sees of the user: kept equal to the auth user's `app_metadata.groups`. */
  groups: { type: 'array', items: { type: 'string' } },
  /** The user's consent answers, one object per consent key, written by the self-service routes. */
  consents: { type: 'object' },
}

/** A consent a group asks its users for; a new `version` asks again. */
export interface Consent {
  key: string
  version: number | string
  required: boolean
}

/** Whether and how people may open an account of a group themselves. */
export interface SelfRegistration {
  enabled: boolean
  /** Lower-case ASCII domains, `*.` for subdomains only; empty allows every domain. */
  allowedEmailDomains: readonly string[]
  defaultRoles: readonly string[]
  defaultGroups: readonly string[]
}

/** What a group lets its users do themselves. */
export interface SelfService {
  /** Fields its users may change with PATCH /users/me; none when the group does not say. */
  editableFields: readonly string[]
  consents: readonly Consent[]
}

export interface UserGroup {
  userGroup: string
  authUserCreationDisabled: boolean
  /** The effective schema's `properties` (standard user fields included), e.g. to type CSV cells. */
  properties: Readonly<Record<string, unknown>>
  selfService: SelfService
  selfRegistration: SelfRegistration
  /** Undefined when `user` is valid, else a message naming the first failing field. */
  validate(user: Record<string, unknown>): string | undefined
}

interface GroupDocument {
  userGroup: string
  crudSchema?: unknown
  authUserCreationDisabled?: unknown
  selfService?: unknown
  selfRegistration?: unknown
}

/** How many group names an unknown-group message lists. */
const LISTED_GROUPS = 50

function consentOf(value: unknown): Consent | undefined {
  if (!isPlainObject(value, 'not-date') || typeof value.key !== 'string' || value.key === '') return undefined
  const version = typeof value.version === 'number' || typeof value.version === 'string' ? value.version : 1
  return { key: value.key, version, required: value.required === true }
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [])

/** The group's `selfRegistration`, read leniently: anything but `enabled: true` accepts no sign-up. */
function selfRegistrationOf(value: unknown): SelfRegistration {
  if (!isPlainObject(value, 'not-date')) return { enabled: false, allowedEmailDomains: [], defaultRoles: [], defaultGroups: [] }
  return {
    enabled: value.enabled === true,
    allowedEmailDomains: strings(value.allowedEmailDomains).map(asciiDomainPattern),
    defaultRoles: strings(value.defaultRoles),
    defaultGroups: strings(value.defaultGroups),
  }
}

/** The group's `selfService`, read leniently: a missing or malformed part grants nothing. */
function selfServiceOf(value: unknown): SelfService {
  if (!isPlainObject(value, 'not-date')) return { editableFields: [], consents: [] }
  const editableFields = Array.isArray(value.editableFields) ? value.editableFields.filter((field): field is string => typeof field === 'string') : []
  const consents = Array.isArray(value.consents) ? value.consents.map(consentOf).filter((consent) => consent !== undefined) : []
  return { editableFields, consents }
}

function describe(error: ErrorObject): string {
  const path = `body${error.instancePath.replace(/\//g, '.')}`
  const extra = error.params as { additionalProperty?: string }
  if (error.keyword === 'additionalProperties' && extra.additionalProperty) {
    return `${path} must NOT have additional properties (property "${extra.additionalProperty}")`
  }
  return `${path} ${error.message ?? 'is invalid'}`
}

/** Compiled groups kept by content: enough for every group of a deployment and a few past versions. */
const COMPILED_GROUPS = 256

/** Fields the CRUD adds to every document: they change on every write and say nothing about the group. */
const DOCUMENT_METADATA = new Set<string>(CRUD_METADATA_FIELDS)

/** The group document's content, as the key of its compiled form. */
function contentKey(document: GroupDocument): string {
  return JSON.stringify(Object.entries(document).filter(([key]) => !DOCUMENT_METADATA.has(key)))
}

export class GroupSchemaCache {
  private readonly ajv: Ajv
  private readonly entries = new Map<string, { expiresAt: number; group: Promise<UserGroup> }>()
  /** Compiling a schema costs far more than reading the document: a group read again unchanged is not compiled again. */
  private readonly compiled = new Map<string, UserGroup>()

  constructor(
    private readonly umsConfig: CrudCollection,
    /** How long a read group is used before it is read again; 0 reads it on every call. */
    private readonly ttlMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {
    this.ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false })
    addFormats(this.ajv)
  }

  /** The group named `userGroup`; 400 `Unknown userGroup <name>` when ums-config has none. */
  get(userGroup: string, ctx: CallContext): Promise<UserGroup> {
    if (this.ttlMs === 0) return this.load(userGroup, ctx)
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
    if (!document) throw await this.unknownGroup(userGroup, ctx)
    const key = contentKey(document)
    const known = this.compiled.get(key)
    if (known) return known
    const group = this.build(userGroup, document)
    if (this.compiled.size >= COMPILED_GROUPS) this.compiled.delete(this.compiled.keys().next().value!)
    this.compiled.set(key, group)
    return group
  }

  private build(userGroup: string, document: GroupDocument): UserGroup {
    const { validator, properties } = this.compile(document)
    return {
      userGroup,
      authUserCreationDisabled: document.authUserCreationDisabled === true,
      properties,
      selfService: selfServiceOf(document.selfService),
      selfRegistration: selfRegistrationOf(document.selfRegistration),
      validate: (user) => {
        const candidate = { ...user }
        for (const field of SERVER_MANAGED_FIELDS) delete candidate[field]
        if (validator(candidate)) return undefined
        const [first] = validator.errors ?? []
        return first ? describe(first) : 'body does not match the group schema'
      },
    }
  }

  /** The unknown-group error, naming the groups ums-config does have so the caller can pick one. */
  private async unknownGroup(userGroup: string, ctx: CallContext): Promise<HttpError> {
    const groups = await this.umsConfig.list<{ userGroup?: unknown }>({ _p: 'userGroup', _s: 'userGroup', _l: LISTED_GROUPS + 1 }, ctx)
    const names = groups.map((group) => group.userGroup).filter((name): name is string => typeof name === 'string')
    const known =
      names.length === 0
        ? 'ums-config has no groups'
        : `known groups: ${names.slice(0, LISTED_GROUPS).join(', ')}${names.length > LISTED_GROUPS ? ', …' : ''}`
    return badRequest(`Unknown userGroup ${userGroup} (${known})`, 'UMS_UNKNOWN_GROUP')
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
