// Patch operators of the CRUD emulator: validation and conversion of `$set`, `$unset`, `$inc`,
// `$mul`, `$currentDate`, `$push`, `$addToSet`, `$pull` and `$setOnInsert` bodies, and applying them.
import { update } from 'mingo'
import type { Modifier } from 'mingo/updater'
import { internalError, kindOf, type CollectionModel, type CrudFieldSchema, type Doc, type ResolvedPath } from './model.js'
import { additionalProperty, castQueryValue, coerceField, coerceScalar, crossesArray, schemaError } from './values.js'
import { isPlainObject } from '../../lib/plain-object.js'
import { messageOf } from '../../lib/message-of.js'

const OPERATORS = ['$set', '$unset', '$inc', '$mul', '$currentDate', '$push', '$pull', '$addToSet'] as const
const UPSERT_OPERATORS = [...OPERATORS, '$setOnInsert'] as const
export type PatchOperator = (typeof UPSERT_OPERATORS)[number]
export type PatchBody = Partial<Record<PatchOperator, Doc>>

/** Validates a patch body (`body`, `body/0/update`, …) and returns it with converted values. */
export function validatePatch(model: CollectionModel, body: unknown, path: string, upsert: boolean): PatchBody {
  if (!isPlainObject(body)) throw schemaError(path, 'must be object')
  const allowed: readonly string[] = upsert ? UPSERT_OPERATORS : OPERATORS
  for (const key of Object.keys(body)) if (!allowed.includes(key)) throw additionalProperty(path, key)
  const out: PatchBody = {}
  for (const operator of upsert ? UPSERT_OPERATORS : OPERATORS) {
    if (!Object.hasOwn(body, operator)) continue
    const operatorPath = `${path}/${operator}`
    const spec = body[operator]
    if (!isPlainObject(spec)) throw schemaError(operatorPath, 'must be object')
    const targets = Object.keys(spec).map((key) => [key, target(model, operator, key, operatorPath)] as const)
    const converted: Doc = {}
    for (const [key, resolved] of targets) {
      converted[key] = convertOperand(operator, resolved.schema, spec[key], `${operatorPath}/${key}`)
    }
    out[operator] = converted
  }
  return out
}

/** Which paths an operator may touch: declared, non-system fields and sub-paths of objects. */
function target(model: CollectionModel, operator: PatchOperator, key: string, path: string): ResolvedPath {
  if (/\.\$(\.|$)/.test(key)) throw internalError(`CRUD emulator: positional array update "${key}" is not supported`)
  const resolved = crossesArray(model, key, model.declared) ? undefined : model.resolve(key, model.declared)
  if (resolved === undefined || !accepts(operator, resolved)) throw additionalProperty(path, key)
  return resolved
}

function accepts(operator: PatchOperator, { schema, required }: ResolvedPath): boolean {
  switch (operator) {
    case '$set':
    case '$setOnInsert':
      return true
    case '$unset':
      return !required
    case '$inc':
    case '$mul':
      return schema === undefined || schema.type === 'number'
    case '$currentDate':
      return schema !== undefined && kindOf(schema) === 'date'
    case '$push':
    case '$addToSet':
    case '$pull':
      return schema === undefined || schema.type === 'array'
  }
}

function constantTrue(value: unknown, path: string): true {
  const coerced = coerceScalar('boolean', value)
  if (typeof coerced !== 'boolean') throw schemaError(path, 'must be boolean')
  if (!coerced) throw schemaError(path, 'must be equal to one of the allowed values')
  return true
}

function convertOperand(operator: PatchOperator, schema: CrudFieldSchema | undefined, value: unknown, path: string): unknown {
  switch (operator) {
    case '$set':
    case '$setOnInsert':
      return schema ? coerceField(schema, value, path) : value
    case '$unset':
    case '$currentDate':
      return constantTrue(value, path)
    case '$inc':
    case '$mul': {
      const number = coerceScalar('number', value)
      if (typeof number !== 'number') throw schemaError(path, 'must be number')
      return number
    }
    case '$push':
    case '$addToSet':
      return convertPush(operator, schema?.items, value, path)
    case '$pull':
      return convertPull(schema?.items, value, path)
  }
}

const PUSH_MODIFIERS = ['$each', '$position', '$slice', '$sort']

function convertPush(operator: '$push' | '$addToSet', items: CrudFieldSchema | undefined, value: unknown, path: string): unknown {
  const item = (raw: unknown, itemPath: string) => (items ? coerceField(items, raw, itemPath) : raw)
  if (!isPlainObject(value) || !Object.keys(value).some((key) => key.startsWith('$'))) return item(value, path)
  const allowed = operator === '$push' ? PUSH_MODIFIERS : ['$each']
  for (const key of Object.keys(value)) if (!allowed.includes(key)) throw additionalProperty(path, key)
  if (!Object.hasOwn(value, '$each')) throw schemaError(path, "must have required property '$each'")
  const each = value.$each
  if (!Array.isArray(each)) throw schemaError(`${path}/$each`, 'must be array')
  const out: Doc = { ...value, $each: each.map((raw, index) => item(raw, `${path}/$each/${index}`)) }
  for (const key of ['$position', '$slice']) {
    if (!Object.hasOwn(value, key)) continue
    const number = coerceScalar('integer', value[key])
    if (typeof number !== 'number') throw schemaError(`${path}/${key}`, 'must be integer')
    out[key] = number
  }
  return out
}

/** A `$pull` takes an item or a condition; conditions on scalar items get dates/ObjectIds converted. */
function convertPull(items: CrudFieldSchema | undefined, value: unknown, path: string): unknown {
  if (items === undefined || items.type === 'object' || items.type === 'array') return value
  const kind = kindOf(items)
  if (!isPlainObject(value)) return coerceField(items, value, path)
  const out: Doc = {}
  for (const [operator, operand] of Object.entries(value)) {
    out[operator] = Array.isArray(operand) ? operand.map((element) => castQueryValue(kind, element)) : castQueryValue(kind, operand)
  }
  return out
}

/** A `$set` of top-level fields only: what mingo would do, without building its update context per call. */
function isPlainTopLevelSet(modifier: Doc): modifier is { $set: Doc } {
  const operators = Object.keys(modifier)
  if (operators.length !== 1 || operators[0] !== '$set' || !isPlainObject(modifier.$set)) return false
  return Object.keys(modifier.$set).every((key) => key !== '' && !key.includes('.') && !key.startsWith('$') && key !== '_id' && key !== '__proto__')
}

/** Applies a validated patch to a copy of `doc`; MongoDB-style update errors become 500s. */
export function applyPatch(doc: Doc, patch: PatchBody, system: Doc): Doc {
  const { $setOnInsert: _ignored, ...operators } = patch
  const modifier: Doc = { ...operators, $set: { ...(operators.$set ?? {}), ...system } }
  const copy = structuredClone(doc)
  if (isPlainTopLevelSet(modifier)) {
    // Same result as mingo's deep-cloning `$set`: existing keys keep their place, new ones go last.
    for (const [key, value] of Object.entries(modifier.$set)) copy[key] = structuredClone(value)
    return copy
  }
  try {
    update(copy, modifier as Modifier<Doc>, [], undefined, { cloneMode: 'deep' })
  } catch (error) {
    throw internalError(messageOf(error))
  }
  return copy
}

/** The document an upsert inserts: filter equalities, then the patch with `$setOnInsert` folded into `$set`. */
export function upsertDocument(seed: Doc, patch: PatchBody, system: Doc): Doc {
  const set = { ...(patch.$set ?? {}) }
  for (const [key, value] of Object.entries(patch.$setOnInsert ?? {})) {
    if (Object.hasOwn(set, key)) throw internalError(`Updating the path '${key}' would create a conflict at '${key}'`)
    set[key] = value
  }
  return applyPatch(seed, { ...patch, $set: set }, system)
}
