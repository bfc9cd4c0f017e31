// Typing of CSV cells with the group schema: every cell arrives as a string; the schema's
// `properties` say which ones are numbers, integers, booleans, `[a, b]` arrays or JSON objects.
// A cell that does not look like its type is left a string, so the group validation names the
// field and the rule (`age must be number`) instead of the value.
import { isPlainObject } from '../../lib/plain-object.js'

const DATE_FORMATS = new Set(['date-time', 'date', 'time'])
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

/** The JSON types a schema allows; empty when it declares none (anything goes: kept as text). */
function typesOf(schema: unknown): string[] {
  if (!isPlainObject(schema, 'any')) return []
  const { type } = schema
  if (typeof type === 'string') return [type]
  return Array.isArray(type) ? type.filter((item): item is string => typeof item === 'string') : []
}

function asNumber(text: string): number | undefined {
  const trimmed = text.trim()
  if (!NUMBER.test(trimmed)) return undefined
  const value = Number(trimmed)
  return Number.isFinite(value) ? value : undefined
}

function asBoolean(text: string): boolean | undefined {
  const lowered = text.trim().toLowerCase()
  return lowered === 'true' ? true : lowered === 'false' ? false : undefined
}

/** `[a, b, c]` → the trimmed items, each typed with `items`; `[]` → no item. */
function asArray(text: string, items: unknown): unknown[] | undefined {
  const trimmed = text.trim()
  if (!trimmed.startsWith('[') || !trimmed.endsWith(']')) return undefined
  const inner = trimmed.slice(1, -1)
  if (inner.trim() === '') return []
  return inner.split(',').map((item) => typeCell(item.trim(), items))
}

function asObject(text: string): Record<string, unknown> | undefined {
  const trimmed = text.trim()
  if (!trimmed.startsWith('{')) return undefined
  try {
    const parsed: unknown = JSON.parse(trimmed)
    return isPlainObject(parsed, 'any') ? parsed : undefined
  } catch {
    return undefined
  }
}

/**
 * One cell typed with its field schema. A field that may be a string keeps the text as it is
 * (`007` stays `"007"`); otherwise the first of array, number/integer, boolean, object, null that
 * the text looks like wins. Date-time fields are strings: the trimmed text is kept for the
 * `date-time` format check (the CRUD Service stores it as a date).
 */
export function typeCell(text: string, schema: unknown): unknown {
  const types = typesOf(schema)
  if (types.length === 0 || types.includes('string')) {
    return isPlainObject(schema, 'any') && typeof schema.format === 'string' && DATE_FORMATS.has(schema.format) ? text.trim() : text
  }
  if (types.includes('array')) {
    const array = asArray(text, isPlainObject(schema, 'any') ? schema.items : undefined)
    if (array !== undefined) return array
  }
  if (types.includes('number') || types.includes('integer')) {
    const number = asNumber(text)
    if (number !== undefined) return number
  }
  if (types.includes('boolean')) {
    const boolean = asBoolean(text)
    if (boolean !== undefined) return boolean
  }
  if (types.includes('object')) {
    const object = asObject(text)
    if (object !== undefined) return object
  }
  if (types.includes('null') && text.trim() === 'null') return null
  return text
}

/**
 * A CSV record typed with the group's `properties`: empty cells are left out (the field is
 * absent), columns the schema does not declare stay strings (the validation decides).
 */
export function typeRecord(record: Readonly<Record<string, string | undefined>>, properties: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const user: Record<string, unknown> = {}
  for (const [field, text] of Object.entries(record)) {
    if (text === undefined || text === '') continue
    user[field] = Object.hasOwn(properties, field) ? typeCell(text, properties[field]) : text
  }
  return user
}
