// Value typing of the CRUD emulator: Ajv-style coercion (`coerceTypes`) with Fastify's error
// texts, date/ObjectId conversion, and validation of insert bodies and state commands.
import {
  CrudHttpError,
  OBJECT_ID,
  STATES,
  badRequest,
  kindOf,
  type CollectionModel,
  type CrudFieldSchema,
  type CrudState,
  type Doc,
  type FieldKind,
} from './model.js'
import { isPlainObject } from '../../lib/plain-object.js'

const VALIDATION = 'FST_ERR_VALIDATION'
const OBJECT_ID_PATTERN = '^[0-9a-fA-F]{24}$'

export const schemaError = (path: string, message: string) => new CrudHttpError(400, `${path} ${message}`, VALIDATION)

/** The CRUD Service prints this one without a `code`. */
export const additionalProperty = (path: string, key: string) =>
  new CrudHttpError(400, `${path} must NOT have additional properties. Property "${key}" is not defined in validation schema`)

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2}(?:\.\d+)?)([Zz]|[+-]\d{2}:?\d{2})$/
const TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-]\d{2}:?\d{2})?$/

function isDateOnly(value: string): boolean {
  const match = DATE_ONLY.exec(value)
  if (!match) return false
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])]
  const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate()
  return month >= 1 && month <= 12 && day >= 1 && day <= lastDay
}

function isTime(value: string): boolean {
  const match = TIME.exec(value)
  return match !== null && Number(match[1]) <= 23 && Number(match[2]) <= 59 && Number(match[3]) <= 60
}

function isDateTime(value: string): boolean {
  const match = DATE_TIME.exec(value)
  return match !== null && isDateOnly(match[1] ?? '') && isTime(`${match[2] ?? ''}Z`)
}

export const FORMATS: Record<'date-time' | 'date' | 'time', (value: string) => boolean> = {
  'date-time': isDateTime,
  date: isDateOnly,
  time: isTime,
}

/** Parses an ISO date string (space separator and colon-less offsets included) or epoch millis. */
export function parseDate(value: string | number): Date | undefined {
  const normalized =
    typeof value === 'string' ? value.replace(/^(\d{4}-\d{2}-\d{2}) /, '$1T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2') : value
  const date = new Date(normalized)
  return Number.isNaN(date.getTime()) ? undefined : date
}

const FAIL = Symbol('coercion failed')

/** Ajv's scalar coercions: what `coerceTypes: true` turns into the wanted type, or FAIL. */
export function coerceScalar(type: 'string' | 'number' | 'integer' | 'boolean', value: unknown): unknown {
  switch (type) {
    case 'string':
      if (typeof value === 'string') return value
      if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') return String(value)
      return value === null ? '' : FAIL
    case 'number':
    case 'integer': {
      let number: number | typeof FAIL = FAIL
      if (typeof value === 'number' && Number.isFinite(value)) number = value
      else if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) number = Number(value)
      else if (typeof value === 'boolean') number = value ? 1 : 0
      else if (value === null) number = 0
      return type === 'integer' && number !== FAIL && !Number.isInteger(number) ? FAIL : number
    }
    case 'boolean':
      if (typeof value === 'boolean') return value
      if (value === 'true' || value === 1) return true
      if (value === 'false' || value === 0 || value === null) return false
      return FAIL
  }
}

/** Validates and coerces one value against its field schema; date fields become `Date`, ObjectIds lower-case hex. */
export function coerceField(schema: CrudFieldSchema, value: unknown, path: string): unknown {
  if (value === null && schema.nullable) return null
  if (schema.type === 'object') {
    if (!isPlainObject(value)) throw schemaError(path, 'must be object')
    return coerceObject(schema, value, path)
  }
  if (schema.type === 'array') {
    if (!Array.isArray(value)) throw schemaError(path, 'must be array')
    const items = schema.items
    return items ? value.map((item, index) => coerceField(items, item, `${path}/${index}`)) : [...value]
  }
  const coerced = coerceScalar(schema.type, value)
  if (coerced === FAIL) throw schemaError(path, `must be ${schema.type}`)
  if (schema.enum && !schema.enum.includes(coerced)) throw schemaError(path, 'must be equal to one of the allowed values')
  if (typeof coerced !== 'string') return coerced
  const kind = kindOf(schema)
  if (kind === 'objectid') {
    if (!OBJECT_ID.test(coerced)) throw schemaError(path, `must match pattern "${OBJECT_ID_PATTERN}"`)
    return coerced.toLowerCase()
  }
  if (schema.format !== undefined) {
    if (!FORMATS[schema.format](coerced)) throw schemaError(path, `must match format "${schema.format}"`)
    if (kind === 'date') return parseDate(coerced) ?? invalidDate()
  }
  return coerced
}

const invalidDate = (): never => {
  throw badRequest('Invalid Date')
}

/** Ajv keyword order for objects: required, then additionalProperties, then properties. */
export function coerceObject(schema: CrudFieldSchema, value: Record<string, unknown>, path: string): Doc {
  const properties = schema.properties ?? {}
  for (const name of schema.required ?? []) {
    if (!Object.hasOwn(value, name)) throw schemaError(path, `must have required property '${name}'`)
  }
  if (schema.additionalProperties === false) {
    for (const key of Object.keys(value)) if (!Object.hasOwn(properties, key)) throw additionalProperty(path, key)
  }
  const coerced = new Map<string, unknown>()
  for (const [name, propertySchema] of Object.entries(properties)) {
    if (Object.hasOwn(value, name)) coerced.set(name, coerceField(propertySchema, value[name], `${path}/${name}`))
  }
  const out: Doc = {}
  for (const [key, raw] of Object.entries(value)) out[key] = coerced.has(key) ? coerced.get(key) : raw
  return out
}

/** `POST /` and each item of `POST /bulk`: declared fields plus optional `__STATE__`, nothing else. */
export function validateInsertBody(model: CollectionModel, body: unknown, path: string): Doc {
  if (!isPlainObject(body)) throw schemaError(path, 'must be object')
  const schema: CrudFieldSchema = {
    type: 'object',
    properties: { ...model.declared, __STATE__: { type: 'string', enum: STATES } },
    required: [...model.required],
    additionalProperties: false,
  }
  return coerceObject(schema, body, path)
}

/** Query-side conversion (`_q`, filters, `acl_rows`): dates and ObjectIds, with the CRUD Service's messages. */
export function castQueryValue(kind: FieldKind | undefined, value: unknown): unknown {
  if (value === null) return null
  if (kind === 'date') {
    if (typeof value !== 'string' && typeof value !== 'number') return invalidDate()
    return parseDate(value) ?? invalidDate()
  }
  if (kind === 'objectid') {
    if (typeof value !== 'string' || !OBJECT_ID.test(value)) throw badRequest('Invalid objectId')
    return value.toLowerCase()
  }
  return value
}

/**
 * Schema of the value a plain equality filter (`?field=value`, `filter.field` of PATCH /bulk)
 * takes: scalar fields and the items of arrays of scalars, system fields but not `__STATE__`,
 * dotted paths into typed objects. Undefined when the name is not filterable.
 */
export function plainFilterSchema(model: CollectionModel, name: string): CrudFieldSchema | undefined {
  if (name === '__STATE__' || crossesArray(model, name)) return undefined
  const schema = model.resolve(name)?.schema
  if (!schema || schema.type === 'object') return undefined
  if (schema.type !== 'array') return schema
  return schema.items && schema.items.type !== 'object' && schema.items.type !== 'array' ? schema.items : undefined
}

/** True when a dotted path steps through an array (`tags.0`, `items.name`). */
export function crossesArray(model: CollectionModel, path: string, roots?: Record<string, CrudFieldSchema>): boolean {
  const segments = path.split('.')
  for (let end = 1; end < segments.length; end += 1) {
    if (model.resolve(segments.slice(0, end).join('.'), roots)?.schema?.type === 'array') return true
  }
  return false
}

/** Coerces a plain filter value; date filters accept date-time, date or time strings. */
export function coercePlainFilter(schema: CrudFieldSchema, value: unknown, path: string): unknown {
  const kind = kindOf(schema)
  if (kind === 'date') {
    if (value === null && schema.nullable) return null
    if (typeof value !== 'string') throw schemaError(path, 'must be string')
    if (!isDateTime(value) && !isDateOnly(value) && !isTime(value)) throw schemaError(path, 'must match format "date-time"')
    return castQueryValue('date', value)
  }
  if (kind === 'objectid') {
    const text = coerceScalar('string', value)
    return castQueryValue('objectid', text === FAIL ? value : text)
  }
  return coerceField(schema, value, path)
}

export function validateStateTo(value: unknown, path: string): CrudState {
  if (typeof value !== 'string') throw schemaError(path, 'must be string')
  const state = STATES.find((candidate) => candidate === value)
  if (state === undefined) throw schemaError(path, 'must be equal to one of the allowed values')
  return state
}

/** `POST /:id/state` body: `stateTo` required, other keys ignored. */
export function validateStateBody(body: unknown): CrudState {
  if (!isPlainObject(body)) throw schemaError('body', 'must be object')
  if (!Object.hasOwn(body, 'stateTo')) throw schemaError('body', "must have required property 'stateTo'")
  return validateStateTo(body.stateTo, 'body/stateTo')
}

export interface StateCommand {
  filter: Doc
  stateTo: CrudState
}

export function requireNonEmptyArray(body: unknown): unknown[] {
  if (!Array.isArray(body)) throw schemaError('body', 'must be array')
  if (body.length === 0) throw schemaError('body', 'must NOT have fewer than 1 items')
  return body
}

/** Checks an array item against a closed set of keys, all of them required. */
export function checkItemKeys(item: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
  if (!isPlainObject(item)) throw schemaError(path, 'must be object')
  for (const key of keys) if (!Object.hasOwn(item, key)) throw schemaError(path, `must have required property '${key}'`)
  for (const key of Object.keys(item)) if (!keys.includes(key)) throw additionalProperty(path, key)
  return item
}

/** `POST /state` body: equality filters on declared and system fields (typed like the fields themselves). */
export function validateStateCommands(model: CollectionModel, body: unknown): StateCommand[] {
  return requireNonEmptyArray(body).map((raw, index) => {
    const path = `body/${index}`
    const item = checkItemKeys(raw, path, ['filter', 'stateTo'])
    const filterPath = `${path}/filter`
    if (!isPlainObject(item.filter)) throw schemaError(filterPath, 'must be object')
    const filter: Doc = {}
    const entries = Object.entries(item.filter)
    for (const [key] of entries) {
      if (key === '__STATE__' || !Object.hasOwn(model.all, key)) throw additionalProperty(filterPath, key)
    }
    for (const [key, value] of entries) {
      const schema = model.all[key]
      if (schema) filter[key] = coerceField(schema, value, `${filterPath}/${key}`)
    }
    return { filter, stateTo: validateStateTo(item.stateTo, `${path}/stateTo`) }
  })
}

/** Seeding helper: converts wire-form values (ISO dates, upper-case hex) to the stored form, without validation. */
export function toStoredValue(schema: CrudFieldSchema | undefined, value: unknown): unknown {
  if (schema === undefined || value === null || value === undefined) return value
  const kind = kindOf(schema)
  if (kind === 'date' && (typeof value === 'string' || typeof value === 'number')) {
    const date = parseDate(value)
    if (!date) throw new Error(`seed: ${JSON.stringify(value)} is not a date`)
    return date
  }
  if (kind === 'objectid' && typeof value === 'string' && OBJECT_ID.test(value)) return value.toLowerCase()
  if (schema.type === 'array' && Array.isArray(value)) return value.map((item) => toStoredValue(schema.items, item))
  if (schema.type === 'object' && isPlainObject(value)) {
    const out: Doc = {}
    for (const [key, inner] of Object.entries(value)) out[key] = toStoredValue(schema.properties?.[key], inner)
    return out
  }
  return value
}
