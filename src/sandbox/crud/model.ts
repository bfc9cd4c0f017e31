// Collection definitions of the CRUD emulator: the public definition types, the error types
// every layer throws, and the compiled model (system fields added, path typing for queries and patches).
import { STATUS_CODES } from 'node:http'

export type CrudState = 'PUBLIC' | 'DRAFT' | 'TRASH' | 'DELETED'
export const STATES: readonly CrudState[] = ['PUBLIC', 'DRAFT', 'TRASH', 'DELETED']

export interface CrudFieldSchema {
  type: 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array'
  format?: 'date-time' | 'date' | 'time'
  nullable?: boolean
  enum?: readonly unknown[]
  items?: CrudFieldSchema
  properties?: Record<string, CrudFieldSchema>
  required?: string[]
  additionalProperties?: boolean
  __mia_configuration?: { type: 'ObjectId' }
}

export interface CrudIndexDefinition {
  name: string
  unique: boolean
  fields: Array<{ name: string; order: 1 | -1 }>
  partialFilterExpression?: Record<string, unknown>
}

export interface CrudCollectionDefinition {
  endpointBasePath: string
  /** MongoDB collection name, only shown in E11000 messages; derived from the base path when omitted. */
  name?: string
  /** `_id` flavour: generated ObjectId (default) or random UUID string. */
  idType?: 'ObjectId' | 'string'
  defaultState?: CrudState
  defaultSorting?: Record<string, 1 | -1>
  schema: { type: 'object'; properties: Record<string, CrudFieldSchema>; required?: string[] }
  indexes?: CrudIndexDefinition[]
}

/** An error answered with the standard Fastify body `{statusCode, error, message, code?}`. */
export class CrudHttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly code?: string,
  ) {
    super(message)
  }

  body(): Record<string, unknown> {
    const body: Record<string, unknown> = { statusCode: this.statusCode, error: reason(this.statusCode), message: this.message }
    if (this.code !== undefined) body.code = this.code
    return body
  }
}

/** Answered as exactly `404 {"error":"not found"}`. */
export class CrudNotFound extends Error {
  constructor() {
    super('not found')
  }
}

export function reason(status: number): string {
  return STATUS_CODES[status] ?? 'Error'
}

export const badRequest = (message: string) => new CrudHttpError(400, message)
export const internalError = (message: string, code?: string) => new CrudHttpError(500, message, code)

/** What the query and patch layers need to know about a value's type. */
export type FieldKind = 'string' | 'number' | 'integer' | 'boolean' | 'date' | 'objectid' | 'object' | 'array'

export function kindOf(schema: CrudFieldSchema): FieldKind {
  if (schema.type === 'string') {
    if (schema.__mia_configuration?.type === 'ObjectId') return 'objectid'
    // `time` strings cannot become a JS Date, so they stay strings.
    if (schema.format === 'date-time' || schema.format === 'date') return 'date'
    return 'string'
  }
  return schema.type
}

export const SYSTEM_FIELDS = ['_id', 'creatorId', 'createdAt', 'updaterId', 'updatedAt', '__STATE__'] as const

export type Doc = Record<string, unknown>

/** A resolved (possibly dotted) path: its schema, or `undefined` when the path is untyped (free-form object). */
export interface ResolvedPath {
  schema: CrudFieldSchema | undefined
  /** Whether the last segment is required by its parent schema. */
  required: boolean
}

export class CollectionModel {
  readonly basePath: string
  readonly name: string
  readonly idKind: 'objectid' | 'string'
  readonly defaultState: CrudState
  /** Declared (non-system) fields. */
  readonly declared: Record<string, CrudFieldSchema>
  /** Declared plus the six system fields. */
  readonly all: Record<string, CrudFieldSchema>
  readonly required: readonly string[]

  constructor(readonly definition: CrudCollectionDefinition) {
    const base = definition.endpointBasePath
    if (!/^\/[^?#]*[^/]$/.test(base)) throw new Error(`invalid endpointBasePath ${JSON.stringify(base)}`)
    this.basePath = base
    this.name = definition.name ?? base.slice(1).replace(/\//g, '-')
    this.idKind = definition.idType === 'string' ? 'string' : 'objectid'
    this.defaultState = definition.defaultState ?? 'DRAFT'
    this.declared = { ...definition.schema.properties }
    for (const system of SYSTEM_FIELDS) {
      if (system in this.declared) throw new Error(`${base}: system field ${system} must not be declared`)
    }
    this.required = definition.schema.required ?? []
    const idSchema: CrudFieldSchema =
      this.idKind === 'objectid' ? { type: 'string', __mia_configuration: { type: 'ObjectId' } } : { type: 'string' }
    this.all = {
      _id: idSchema,
      ...this.declared,
      creatorId: { type: 'string' },
      createdAt: { type: 'string', format: 'date-time' },
      updaterId: { type: 'string' },
      updatedAt: { type: 'string', format: 'date-time' },
      __STATE__: { type: 'string', enum: STATES },
    }
  }

  /**
   * Types a dotted path starting at one of `roots`: numeric segments step into arrays, other
   * segments into object properties (or into the items of an array of objects). Returns
   * undefined when the path cannot exist (unknown head, property missing from a typed object,
   * sub-path of a scalar).
   */
  resolve(path: string, roots: Record<string, CrudFieldSchema> = this.all): ResolvedPath | undefined {
    const [head, ...rest] = path.split('.')
    if (head === undefined || !Object.hasOwn(roots, head)) return undefined
    let current: CrudFieldSchema | undefined = roots[head]
    let required = this.required.includes(head)
    for (const segment of rest) {
      if (current === undefined) return { schema: undefined, required: false }
      if (current.type === 'array') {
        current = current.items
        if (/^\d+$/.test(segment)) {
          required = false
          continue
        }
      }
      if (current === undefined) return { schema: undefined, required: false }
      if (current.type !== 'object') return undefined
      if (!current.properties) return { schema: undefined, required: false }
      if (!Object.hasOwn(current.properties, segment)) {
        return current.additionalProperties === false ? undefined : { schema: undefined, required: false }
      }
      required = current.required?.includes(segment) ?? false
      current = current.properties[segment]
    }
    return { schema: current, required }
  }

  /** Converts a path id: valid 24-hex becomes the stored (lower-case) ObjectId form, anything else stays as is. */
  pathId(raw: string): string {
    return this.idKind === 'objectid' && OBJECT_ID.test(raw) ? raw.toLowerCase() : raw
  }
}

export const OBJECT_ID = /^[0-9a-fA-F]{24}$/
