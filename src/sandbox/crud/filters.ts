// MongoDB filters of the CRUD emulator (`_q`, plain filters, `acl_rows`): field and operator
// whitelist by field type, value conversion and `$regex` options, producing a mingo criteria object.
import {
  badRequest,
  internalError,
  kindOf,
  type CollectionModel,
  type CrudFieldSchema,
  type Doc,
  type FieldKind,
} from './model.js'
import { castQueryValue } from './values.js'
import { isPlainObject } from '../../lib/plain-object.js'
import { messageOf } from '../../lib/message-of.js'

const FIELD_OPERATORS = new Set([
  '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$all', '$exists', '$regex', '$options', '$elemMatch', '$size', '$nearSphere',
])
const ARRAY_OPERATORS = new Set(['$eq', '$in', '$nin', '$all', '$exists', '$elemMatch', '$size'])
const SCALAR_ONLY_EXCLUDED = new Set(['$elemMatch', '$size', '$nearSphere'])
const OBJECT_OPERATORS = new Set(['$exists'])

const TYPE_NAMES: Record<FieldKind, string> = {
  string: 'string',
  number: 'number',
  integer: 'integer',
  boolean: 'boolean',
  date: 'Date',
  objectid: 'ObjectId',
  object: 'RawObject',
  array: 'Array',
}

/** `undefined` kind: a sub-path of a free-form object, where anything goes unconverted. */
type Kind = FieldKind | undefined

function operatorAllowed(kind: Kind, operator: string): boolean {
  if (kind === undefined) return true
  if (kind === 'array') return ARRAY_OPERATORS.has(operator)
  if (kind === 'object') return OBJECT_OPERATORS.has(operator)
  return !SCALAR_ONLY_EXCLUDED.has(operator)
}

/** Validates and converts one MongoDB filter object against the collection's fields. */
export function translateFilter(model: CollectionModel, query: unknown): Doc {
  if (!isPlainObject(query)) throw badRequest('a query filter must be a JSON object')
  const out: Doc = {}
  for (const [key, value] of Object.entries(query)) {
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length === 0) throw internalError(`${key} argument must be a non-empty array`)
      out[key] = value.map((clause) => {
        if (!isPlainObject(clause)) throw internalError('$or/$and/$nor entries need to be full objects')
        return translateFilter(model, clause)
      })
      continue
    }
    if (key === '$text') throw internalError('CRUD emulator: $text search is not supported')
    if (key.startsWith('$')) throw badRequest(`Unknown operator: ${key}`)
    const resolved = model.resolve(key)
    if (resolved === undefined) throw badRequest(`Unknown field: ${key}`)
    out[key] = translateCondition(resolved.schema, value)
  }
  return out
}

function translateCondition(schema: CrudFieldSchema | undefined, value: unknown): unknown {
  const kind: Kind = schema ? kindOf(schema) : undefined
  if (!isPlainObject(value)) return castEquality(schema, value)
  const keys = Object.keys(value)
  const first = keys[0]
  if (first === undefined || !first.startsWith('$')) {
    // A literal sub-document: exact match on objects, element match on arrays.
    if (kind !== undefined && kind !== 'object' && kind !== 'array') throw badRequest(`Unsupported operator: ${first ?? '{}'}`)
    return value
  }
  const out: Doc = {}
  for (const operator of keys) {
    if (!FIELD_OPERATORS.has(operator)) throw badRequest(`Unsupported operator: ${operator}`)
    if (!operatorAllowed(kind, operator)) throw badRequest(`Unsupported operator: ${operator} for ${TYPE_NAMES[kind ?? 'object']} field`)
    if (operator === '$nearSphere') throw internalError('CRUD emulator: $nearSphere is not supported')
    out[operator] = convertOperand(schema, operator, value[operator])
  }
  if (Object.hasOwn(out, '$options') || Object.hasOwn(out, '$regex')) {
    if (!Object.hasOwn(out, '$regex')) throw internalError('$options needs a $regex')
    out.$regex = buildRegex(out.$regex, out.$options)
    delete out.$options
  }
  return out
}

function convertOperand(schema: CrudFieldSchema | undefined, operator: string, operand: unknown): unknown {
  switch (operator) {
    case '$in':
    case '$nin':
    case '$all':
      if (!Array.isArray(operand)) throw internalError(`${operator} needs an array`)
      return operand.map((element) => castEquality(schema, element))
    case '$eq':
    case '$ne':
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return castEquality(schema, operand)
    default:
      // $exists, $elemMatch, $size, $regex and $options are not converted.
      return operand
  }
}

/** Equality-style conversion: array fields convert against their item type (a bare value means "contains"). */
function castEquality(schema: CrudFieldSchema | undefined, value: unknown): unknown {
  if (schema === undefined) return value
  if (schema.type === 'array') {
    const items = schema.items
    if (items === undefined) return value
    const itemKind = kindOf(items)
    return Array.isArray(value) ? value.map((element) => castQueryValue(itemKind, element)) : castQueryValue(itemKind, value)
  }
  return castQueryValue(kindOf(schema), value)
}

/** MongoDB regex options: i, m, s, x (extended: unescaped whitespace and `#` comments are dropped). */
export function buildRegex(pattern: unknown, options: unknown): RegExp {
  if (typeof pattern !== 'string') throw internalError('$regex has to be a string')
  const flags = options === undefined ? '' : options
  if (typeof flags !== 'string') throw internalError('$options has to be a string')
  for (const flag of flags) if (!'imsx'.includes(flag)) throw internalError(`invalid flag in regex options: ${flag}`)
  const source = flags.includes('x') ? stripExtended(pattern) : pattern
  try {
    return new RegExp(source, [...new Set(flags.replace(/x/g, ''))].join(''))
  } catch (error) {
    throw internalError(`Regular expression is invalid: ${messageOf(error)}`)
  }
}

function stripExtended(pattern: string): string {
  let out = ''
  let inClass = false
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern[index] ?? ''
    if (char === '\\') {
      out += char + (pattern[index + 1] ?? '')
      index += 1
    } else if (inClass) {
      if (char === ']') inClass = false
      out += char
    } else if (char === '[') {
      inClass = true
      out += char
    } else if (char === '#') {
      while (index < pattern.length && pattern[index] !== '\n') index += 1
    } else if (!/\s/.test(char)) {
      out += char
    }
  }
  return out
}

/** ANDs filter parts, dropping empty ones. */
export function combine(parts: Doc[]): Doc {
  const nonEmpty = parts.filter((part) => Object.keys(part).length > 0)
  if (nonEmpty.length === 0) return {}
  if (nonEmpty.length === 1) return nonEmpty[0] ?? {}
  return { $and: nonEmpty }
}

/** Parses the `acl_rows` header: an object or an array of objects (ANDed). Invalid JSON is a 500. */
export function aclRowsFilter(model: CollectionModel, header: string | undefined): Doc {
  if (header === undefined || header === '') return {}
  const parsed = parseJson(header)
  const filters = Array.isArray(parsed) ? parsed : [parsed]
  return combine(filters.map((filter) => translateFilter(model, filter)))
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw internalError(messageOf(error))
  }
}

/** Equality conditions of a (translated) filter, as an upsert seeds them into a new document. */
export function equalityDocument(filter: Doc): Doc {
  const seed: Doc = {}
  const visit = (query: Doc) => {
    for (const [key, value] of Object.entries(query)) {
      if (key === '$and' && Array.isArray(value)) {
        for (const clause of value) if (isPlainObject(clause)) visit(clause)
      } else if (!key.startsWith('$')) {
        if (!isPlainObject(value) || !Object.keys(value).some((inner) => inner.startsWith('$'))) setPath(seed, key, value)
        else if (Object.hasOwn(value, '$eq')) setPath(seed, key, value.$eq)
      }
    }
  }
  visit(filter)
  return seed
}

function setPath(target: Doc, path: string, value: unknown): void {
  const segments = path.split('.')
  let current = target
  for (const segment of segments.slice(0, -1)) {
    const next = current[segment]
    if (isPlainObject(next)) current = next
    else {
      const created: Doc = {}
      current[segment] = created
      current = created
    }
  }
  current[segments[segments.length - 1] ?? path] = value
}
