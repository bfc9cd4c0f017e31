// Query-string handling of the CRUD emulator: the closed parameter list of each route (strictness
// message of Fastify), coercion of `_l`/`_sk`/`_st`/`_s`/`_useEstimate`, plain filters, base64 JSON.
import { STATES, type CollectionModel, type CrudState, type Doc } from './model.js'
import { parseJson } from './filters.js'
import { additionalProperty, coercePlainFilter, coerceScalar, plainFilterSchema, schemaError } from './values.js'

export type SpecialParam = '_q' | '_st' | '_p' | '_rawp' | '_s' | '_l' | '_sk' | '_useEstimate' | '_id'

export interface ParsedQuery {
  /** Parsed `_q` JSON, not yet translated. */
  q?: unknown
  states: CrudState[]
  /** Converted plain equality filters (including `_id` where the route takes it). */
  fields: Doc
  p?: string
  /** Parsed `_rawp` JSON. */
  rawp?: unknown
  sort?: Array<[string, 1 | -1]>
  limit?: number
  skip: number
  useEstimate: boolean
}

const STATE_NAMES = STATES.join('|')
const STATE_PATTERN = `^(${STATE_NAMES})(,(${STATE_NAMES}))*$`
const STATE_RE = new RegExp(STATE_PATTERN)
export const MAX_LIMIT = 200
export const DEFAULT_LIMIT = 25

export interface QueryHeaders {
  base64: boolean
}

/** Fastify's querystring parser gives arrays for repeated keys; with `coerceTypes: 'array'` a single one unwraps. */
function single(value: unknown, path: string, type: string): unknown {
  if (!Array.isArray(value)) return value
  if (value.length === 1) return value[0]
  throw schemaError(path, `must be ${type}`)
}

function integerParam(value: unknown, path: string, min: number, max?: number): number {
  const number = coerceScalar('integer', single(value, path, 'integer'))
  if (typeof number !== 'number') throw schemaError(path, 'must be integer')
  if (number < min) throw schemaError(path, `must be >= ${min}`)
  if (max !== undefined && number > max) throw schemaError(path, `must be <= ${max}`)
  return number
}

function stringParam(value: unknown, path: string): string {
  const text = single(value, path, 'string')
  if (typeof text !== 'string') throw schemaError(path, 'must be string')
  return text
}

export function decodeJsonParam(value: string, headers: QueryHeaders): unknown {
  return parseJson(headers.base64 ? Buffer.from(value, 'base64').toString('utf8') : value)
}

export function parseStates(value: string, path: string): CrudState[] {
  if (!STATE_RE.test(value)) throw schemaError(path, `must match pattern "${STATE_PATTERN}"`)
  return [...new Set(value.split(','))].filter((state): state is CrudState => STATES.some((known) => known === state))
}

function sortPattern(model: CollectionModel): string {
  const names = Object.keys(model.all)
    .map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('|')
  const key = `-?(${names})(\\.[^,]+)?`
  return `^${key}(,${key})*$`
}

function parseSort(model: CollectionModel, value: unknown): Array<[string, 1 | -1]> {
  const parts = Array.isArray(value) ? value : [value]
  const pattern = sortPattern(model)
  const re = new RegExp(pattern)
  const keys: Array<[string, 1 | -1]> = []
  for (const part of parts) {
    if (typeof part !== 'string' || !re.test(part)) throw schemaError('querystring/_s', `must match pattern "${pattern}"`)
    for (const token of part.split(',')) keys.push(token.startsWith('-') ? [token.slice(1), -1] : [token, 1])
  }
  return keys
}

/**
 * Validates a route's query string against its closed parameter list: unknown names first
 * (Ajv reports additionalProperties before properties), then each value.
 */
export function parseQuery(
  model: CollectionModel,
  raw: Record<string, unknown>,
  allowed: readonly SpecialParam[],
  headers: QueryHeaders,
): ParsedQuery {
  const isSpecial = (name: string): name is SpecialParam => (allowed as readonly string[]).includes(name)
  for (const name of Object.keys(raw)) {
    if (isSpecial(name)) continue
    if (name === '_id' || plainFilterSchema(model, name) === undefined) throw additionalProperty('querystring', name)
  }
  const parsed: ParsedQuery = { states: ['PUBLIC'], fields: {}, skip: 0, useEstimate: false }
  for (const [name, value] of Object.entries(raw)) {
    const path = `querystring/${name}`
    switch (name) {
      case '_q':
        parsed.q = decodeJsonParam(stringParam(value, path), headers)
        break
      case '_rawp':
        parsed.rawp = decodeJsonParam(stringParam(value, path), headers)
        break
      case '_p':
        parsed.p = stringParam(value, path)
        break
      case '_st':
        parsed.states = parseStates(stringParam(value, path), path)
        break
      case '_s':
        parsed.sort = parseSort(model, value)
        break
      case '_l':
        parsed.limit = integerParam(value, path, 1, MAX_LIMIT)
        break
      case '_sk':
        parsed.skip = integerParam(value, path, 0)
        break
      case '_useEstimate': {
        const flag = coerceScalar('boolean', single(value, path, 'boolean'))
        if (typeof flag !== 'boolean') throw schemaError(path, 'must be boolean')
        parsed.useEstimate = flag
        break
      }
      default: {
        const schema = plainFilterSchema(model, name)
        if (schema) parsed.fields[name] = coercePlainFilter(schema, single(value, path, schema.type), path)
      }
    }
  }
  return parsed
}
