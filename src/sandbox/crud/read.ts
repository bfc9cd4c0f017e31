// Read-side shaping of the CRUD emulator: MongoDB sort order and the `_p` / `_rawp` /
// `acl_read_columns` projections.
import { find } from 'mingo'
import { badRequest, internalError, type CollectionModel, type Doc } from './model.js'
import { isPlainObject } from '../../lib/plain-object.js'
import { messageOf } from '../../lib/message-of.js'

// ---- sort ----------------------------------------------------------------------------------

/** BSON comparison order; missing and null are the same and sort first. */
function rank(value: unknown): number {
  if (value === undefined || value === null) return 1
  if (typeof value === 'number') return 2
  if (typeof value === 'string') return 3
  if (Array.isArray(value)) return 5
  if (typeof value === 'boolean') return 7
  if (value instanceof Date) return 8
  if (value instanceof RegExp) return 10
  return 4
}

export function compareValues(a: unknown, b: unknown): number {
  const difference = rank(a) - rank(b)
  if (difference !== 0) return Math.sign(difference)
  if (typeof a === 'number' && typeof b === 'number') return Math.sign(a - b)
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b)
  if (a instanceof Date && b instanceof Date) return Math.sign(a.getTime() - b.getTime())
  if (Array.isArray(a) && Array.isArray(b)) return compareSequences(a, b)
  if (isPlainObject(a) && isPlainObject(b)) {
    const entriesA = Object.entries(a)
    const entriesB = Object.entries(b)
    for (let index = 0; index < Math.min(entriesA.length, entriesB.length); index += 1) {
      const [keyA, valueA] = entriesA[index] ?? []
      const [keyB, valueB] = entriesB[index] ?? []
      const byValueType = rank(valueA) - rank(valueB)
      if (byValueType !== 0) return Math.sign(byValueType)
      if (keyA !== keyB) return (keyA ?? '') < (keyB ?? '') ? -1 : 1
      const byValue = compareValues(valueA, valueB)
      if (byValue !== 0) return byValue
    }
    return Math.sign(entriesA.length - entriesB.length)
  }
  return 0
}

function compareSequences(a: unknown[], b: unknown[]): number {
  for (let index = 0; index < Math.min(a.length, b.length); index += 1) {
    const byElement = compareValues(a[index], b[index])
    if (byElement !== 0) return byElement
  }
  return Math.sign(a.length - b.length)
}

/** Every value a dotted path reaches, descending into arrays on the way. */
function valuesAt(value: unknown, segments: string[]): unknown[] {
  if (segments.length === 0) return Array.isArray(value) ? value : [value]
  const [head = '', ...rest] = segments
  if (Array.isArray(value)) {
    if (/^\d+$/.test(head)) return valuesAt(value[Number(head)], rest)
    return value.flatMap((element) => valuesAt(element, segments))
  }
  if (isPlainObject(value)) return valuesAt(value[head], rest)
  return [undefined]
}

/** MongoDB sorts an array field by its smallest element ascending, its largest descending. */
function sortKey(doc: Doc, path: string, direction: 1 | -1): unknown {
  const values = valuesAt(doc, path.split('.'))
  if (values.length === 0) return undefined
  return values.reduce((best, candidate) => (compareValues(candidate, best) * direction < 0 ? candidate : best))
}

export function sortDocuments(docs: Doc[], keys: Array<[string, 1 | -1]>): Doc[] {
  if (keys.length === 0) return docs
  const keyed = docs.map((doc) => ({ doc, values: keys.map(([path, direction]) => sortKey(doc, path, direction)) }))
  keyed.sort((left, right) => {
    for (const [index, [, direction]] of keys.entries()) {
      const byKey = compareValues(left.values[index], right.values[index]) * direction
      if (byKey !== 0) return byKey
    }
    return 0
  })
  return keyed.map(({ doc }) => doc)
}

// ---- projection ----------------------------------------------------------------------------

const RAW_PROJECTION_OPERATORS = new Set([
  '$eq', '$gt', '$gte', '$in', '$lt', '$lte', '$ne', '$nin', '$and', '$not', '$nor', '$or', '$exists', '$type', '$cond',
  '$regexMatch', '$mod', '$all', '$elemMatch', '$size', '$filter', '$reduce', '$concatArrays', '$first', '$map', '$dateToString',
])

function checkRawProjection(value: unknown): void {
  if (Array.isArray(value)) {
    value.forEach(checkRawProjection)
  } else if (isPlainObject(value)) {
    for (const [key, inner] of Object.entries(value)) {
      if (key.startsWith('$') && !RAW_PROJECTION_OPERATORS.has(key)) throw badRequest(`Operator ${key} is not allowed in raw projection`)
      checkRawProjection(inner)
    }
  } else if (typeof value === 'string' && value.startsWith('$$')) {
    throw badRequest(`Operator ${value} is not allowed in raw projection`)
  }
}

const isExclusion = (value: unknown) => value === 0 || value === false

type PathTree = Map<string, PathTree | true>

/** Paths as a tree; a path under an already listed one is dropped (MongoDB would call it a path collision). */
function pathTree(paths: string[]): PathTree {
  const tree: PathTree = new Map()
  for (const path of paths) {
    let node = tree
    const segments = path.split('.')
    for (const [index, segment] of segments.entries()) {
      const existing = node.get(segment)
      if (existing === true) break
      if (index === segments.length - 1) {
        node.set(segment, true)
        break
      }
      const child: PathTree = existing ?? new Map()
      node.set(segment, child)
      node = child
    }
  }
  return tree
}

/** Applies an inclusion (keep) or exclusion (drop) tree, keeping the stored key order. */
function applyTree(doc: Doc, tree: PathTree, include: boolean): Doc {
  const out: Doc = {}
  for (const [key, value] of Object.entries(doc)) {
    const node = tree.get(key)
    if (node === undefined) {
      if (!include) out[key] = value
    } else if (node === true) {
      if (include) out[key] = value
    } else if (isPlainObject(value)) {
      out[key] = applyTree(value, node, include)
    } else if (Array.isArray(value)) {
      out[key] = value.flatMap((element) => (isPlainObject(element) ? [applyTree(element, node, include)] : include ? [] : [element]))
    } else if (!include) {
      out[key] = value
    }
  }
  return out
}

const including = (paths: string[]) => {
  const tree = pathTree(paths)
  return (docs: Doc[]) => docs.map((doc) => applyTree(doc, tree, true))
}

const excluding = (paths: string[]) => {
  const tree = pathTree(paths)
  return (docs: Doc[]) => docs.map((doc) => applyTree(doc, tree, false))
}

/** Only `_rawp` projections with aggregation expressions need mingo. */
function runProjection(docs: Doc[], projection: Doc): Doc[] {
  try {
    return find(docs, {}, projection).all() as Doc[]
  } catch (error) {
    throw internalError(messageOf(error))
  }
}

export interface ProjectionRequest {
  p?: string
  rawp?: unknown
  /** Parsed `acl_read_columns` header, when present. */
  readColumns?: string[]
}

export function parseReadColumns(header: string | undefined): string[] | undefined {
  if (header === undefined) return undefined
  return header
    .split(',')
    .map((column) => column.trim())
    .filter((column) => column !== '')
}

/**
 * Builds the response shaper of list, get-by-id, patch-by-id and upsert: declared fields by
 * default, `_p` names or `_rawp`, always intersected with `acl_read_columns`.
 */
export function projector(model: CollectionModel, request: ProjectionRequest): (docs: Doc[]) => Doc[] {
  const { p, rawp, readColumns } = request
  if (p !== undefined && rawp !== undefined) throw badRequest('Use of both _rawp and _p parameter is not allowed')
  const allowedByAcl = (path: string) => readColumns === undefined || readColumns.includes(path)
  const defaults = including(['_id', ...(readColumns ?? Object.keys(model.all))])
  if (p !== undefined) {
    const names = p
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '' && allowedByAcl(name))
    return including(['_id', ...names])
  }
  if (rawp === undefined) return defaults
  if (!isPlainObject(rawp)) throw badRequest('_rawp must be a JSON object')
  checkRawProjection(rawp)
  const entries = Object.entries(rawp).filter(([key]) => key !== '_id')
  const hideId = Object.hasOwn(rawp, '_id') && isExclusion(rawp._id)
  if (entries.every(([, value]) => isExclusion(value))) {
    const excluded = entries.map(([key]) => key)
    if (readColumns !== undefined && excluded.some((key) => readColumns.includes(key))) {
      throw badRequest('_rawp exclusive projection is overriding at least one acl_read_column value')
    }
    const exclude = excluding(hideId ? [...excluded, '_id'] : excluded)
    return (docs) => exclude(defaults(docs))
  }
  const kept = entries.filter(([key]) => allowedByAcl(key))
  if (kept.every(([, value]) => value === 1 || value === true)) {
    return including([...(hideId ? [] : ['_id']), ...kept.map(([key]) => key)])
  }
  const projection: Doc = Object.fromEntries(kept)
  if (hideId) projection._id = 0
  return (docs) => runProjection(docs, projection)
}
