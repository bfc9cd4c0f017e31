// Which user fields clients may write, and how a CRUD patch body changes a user document
// (used to validate the result against the group schema before anything is written).
import { badRequest } from '../../errors/index.js'
import { CRUD_METADATA_FIELDS } from '../../clients/crud.js'
import { isPlainObject } from '../../lib/plain-object.js'
import type { UserPatch } from '../../schemas/user-patch.js'

/** Written only by ums or the CRUD: 400 when a client body sets them. */
export const CLIENT_FORBIDDEN_FIELDS = ['authUserId', 'expirationId', '_id', '__STATE__'] as const

/** Fields of a user document the group schema never sees. */
export const SERVER_MANAGED_FIELDS = [...new Set([...CLIENT_FORBIDDEN_FIELDS, ...CRUD_METADATA_FIELDS])]

export { PATCH_OPERATORS, type UserPatch } from '../../schemas/user-patch.js'

type Doc = Record<string, unknown>

/** 400 when `fields` (top-level keys, or first segments of dotted paths) name a forbidden field. */
export function assertClientWritable(fields: Iterable<string>, verb: 'set' | 'modified'): void {
  for (const field of fields) {
    const root = field.split('.')[0]!
    if ((CLIENT_FORBIDDEN_FIELDS as readonly string[]).includes(root)) throw badRequest(`${root} cannot be ${verb}`, 'UMS_READ_ONLY_FIELD')
  }
}

/** Every field path a patch touches, per operator. */
export function patchedPaths(patch: UserPatch): string[] {
  return Object.values(patch).flatMap((fields) => Object.keys(fields ?? {}))
}

function parentOf(doc: Doc, path: string, create: boolean): { parent: Doc; key: string } | undefined {
  const segments = path.split('.')
  let current: Doc = doc
  for (const segment of segments.slice(0, -1)) {
    const next = current[segment]
    if (!isPlainObject(next, 'not-date')) {
      if (!create) return undefined
      current[segment] = {}
    }
    current = current[segment] as Doc
  }
  return { parent: current, key: segments[segments.length - 1]! }
}

function read(doc: Doc, path: string): unknown {
  const location = parentOf(doc, path, false)
  return location?.parent[location.key]
}

function write(doc: Doc, path: string, value: unknown): void {
  const location = parentOf(doc, path, true)!
  location.parent[location.key] = value
}

function eachItems(value: unknown): unknown[] {
  return isPlainObject(value, 'not-date') && Array.isArray(value.$each) ? value.$each : [value]
}

/** Deep equality of JSON values (what MongoDB compares for $addToSet and $pull). */
export const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0
}

/** `$push` with its modifiers, in MongoDB's order: `$position`, then `$sort`, then `$slice`. */
function pushed(current: unknown[], value: unknown): unknown[] {
  const items = eachItems(value)
  const modifiers = isPlainObject(value, 'not-date') && Array.isArray(value.$each) ? value : {}
  const result = [...current]
  const position = typeof modifiers.$position === 'number' ? modifiers.$position : result.length
  result.splice(position < 0 ? Math.max(0, result.length + position) : position, 0, ...items)
  const sort = modifiers.$sort
  if (typeof sort === 'number') result.sort((a, b) => sort * compare(a, b))
  else if (isPlainObject(sort, 'not-date')) {
    const keys = Object.entries(sort) as Array<[string, number]>
    result.sort((a, b) => {
      for (const [key, direction] of keys) {
        const order = compare((a as Doc | undefined)?.[key], (b as Doc | undefined)?.[key])
        if (order !== 0) return direction * order
      }
      return 0
    })
  }
  const slice = modifiers.$slice
  if (typeof slice === 'number') return slice >= 0 ? result.slice(0, slice) : result.slice(slice)
  return result
}

const PULL_OPERATORS: Record<string, (item: unknown, operand: unknown) => boolean> = {
  $in: (item, operand) => Array.isArray(operand) && operand.some((candidate) => sameValue(candidate, item)),
  $nin: (item, operand) => Array.isArray(operand) && !operand.some((candidate) => sameValue(candidate, item)),
  $eq: (item, operand) => sameValue(item, operand),
  $ne: (item, operand) => !sameValue(item, operand),
  $gt: (item, operand) => compare(item, operand) > 0,
  $gte: (item, operand) => compare(item, operand) >= 0,
  $lt: (item, operand) => compare(item, operand) < 0,
  $lte: (item, operand) => compare(item, operand) <= 0,
}

/** Whether `$pull` removes `item`: an equal value, a condition on the value, or on its fields. */
function pulls(item: unknown, condition: unknown): boolean {
  if (!isPlainObject(condition, 'not-date')) return sameValue(item, condition)
  const entries = Object.entries(condition)
  if (entries.length > 0 && entries.every(([key]) => key.startsWith('$'))) {
    return entries.every(([operator, operand]) => {
      const test = PULL_OPERATORS[operator]
      if (!test) throw badRequest(`body.$pull: unsupported condition ${operator}`, 'UMS_INVALID_UPDATE')
      return test(item, operand)
    })
  }
  return isPlainObject(item, 'not-date') && entries.every(([key, expected]) => pulls(item[key], expected))
}

/** The document as MongoDB would leave it after `patch` (enough to validate it). */
export function applyPatch(document: Doc, patch: UserPatch, now = new Date()): Doc {
  const result = structuredClone(document)
  for (const [path, value] of Object.entries(patch.$set ?? {})) write(result, path, structuredClone(value))
  for (const path of Object.keys(patch.$unset ?? {})) {
    const location = parentOf(result, path, false)
    if (location) delete location.parent[location.key]
  }
  for (const [path, value] of Object.entries(patch.$inc ?? {})) write(result, path, Number(read(result, path) ?? 0) + Number(value))
  for (const [path, value] of Object.entries(patch.$mul ?? {})) write(result, path, Number(read(result, path) ?? 0) * Number(value))
  for (const path of Object.keys(patch.$currentDate ?? {})) write(result, path, now.toISOString())
  for (const [path, value] of Object.entries(patch.$push ?? {})) {
    const current = read(result, path)
    write(result, path, pushed(Array.isArray(current) ? current : [], value))
  }
  for (const [path, value] of Object.entries(patch.$addToSet ?? {})) {
    const items = Array.isArray(read(result, path)) ? [...(read(result, path) as unknown[])] : []
    for (const item of eachItems(value)) if (!items.some((existing) => sameValue(existing, item))) items.push(item)
    write(result, path, items)
  }
  for (const [path, condition] of Object.entries(patch.$pull ?? {})) {
    const current = read(result, path)
    if (!Array.isArray(current)) continue
    write(result, path, current.filter((item) => !pulls(item, condition)))
  }
  return result
}

/** A patch that puts the top-level fields touched by `patch` back as they were in `before`. */
export function compensatingPatch(before: Doc, patch: UserPatch): UserPatch {
  const roots = new Set(patchedPaths(patch).map((path) => path.split('.')[0]!))
  const $set: Doc = {}
  const $unset: Record<string, true> = {}
  for (const root of roots) {
    if (root in before) $set[root] = before[root]
    else $unset[root] = true
  }
  const undo: UserPatch = {}
  if (Object.keys($set).length > 0) undo.$set = $set
  if (Object.keys($unset).length > 0) undo.$unset = $unset
  return undo
}

export function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []
}
