// In-memory storage of one emulated collection: documents in insertion order, filter matching
// with mingo, id generation and unique-index enforcement with MongoDB's E11000 message.
//
// Lookups by `_id` do not scan: a filter that pins `_id` (equality, `$eq` or `$in` of strings, at
// the top level or in a clause of a top-level `$and`) is tested with mingo only on the documents
// an `_id` map gives, returned in natural order, so the answer is the one a full scan gives. While
// any stored document has an `_id` that is not a string, every lookup scans as before.
import { randomBytes, randomUUID } from 'node:crypto'
import { Query } from 'mingo'
import { internalError, type CollectionModel, type CrudIndexDefinition, type Doc } from './model.js'
import { isPlainObject } from '../../lib/plain-object.js'
import { messageOf } from '../../lib/message-of.js'

const DATABASE = 'crud'

export class DuplicateKeyError extends Error {}

let objectIdCounter = randomBytes(3).readUIntBE(0, 3)
/** Like MongoDB drivers, 5 random bytes drawn once per process (the counter keeps ids unique). */
const PROCESS_RANDOM = randomBytes(5).toString('hex')

/** ObjectId layout (seconds, 5 random bytes, counter) so ids grow with insertion time like real ones. */
export function newObjectId(): string {
  objectIdCounter = (objectIdCounter + 1) % 0x1000000
  const seconds = Math.floor(Date.now() / 1000)
    .toString(16)
    .padStart(8, '0')
  return `${seconds}${PROCESS_RANDOM}${objectIdCounter.toString(16).padStart(6, '0')}`
}

export function compileFilter(filter: Doc): Query {
  try {
    return new Query(filter, {})
  } catch (error) {
    throw internalError(messageOf(error))
  }
}

interface UniqueIndex {
  definition: CrudIndexDefinition
  partial?: Query
  /** Stored documents by canonical key, so a unique check does not scan the collection. */
  holders: Map<string, Set<Doc>>
}

/** Every value a dotted path reaches (arrays fan out like a multikey index); missing is null. */
function indexValues(value: unknown, segments: string[]): unknown[] {
  if (segments.length === 0) {
    if (Array.isArray(value)) return value.length === 0 ? [undefined] : value
    return [value === undefined ? null : value]
  }
  const [head = '', ...rest] = segments
  if (Array.isArray(value)) {
    if (/^\d+$/.test(head)) return indexValues(value[Number(head)], rest)
    const values = value.flatMap((element) => indexValues(element, segments))
    return values.length === 0 ? [null] : values
  }
  if (isPlainObject(value)) return indexValues(value[head], rest)
  return [null]
}

/** Canonical text of a key value; distinguishes types like BSON does. */
function canonical(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, inner: unknown) {
    const original = this[key]
    if (original instanceof Date) return { $date: original.getTime() }
    return inner === undefined ? { $undefined: true } : inner
  })
}

/** How the MongoDB server prints a key value in `dup key: { … }`. */
function printKeyValue(value: unknown, objectIdField: boolean): string {
  if (value === null || value === undefined) return 'null'
  if (value instanceof Date) return `new Date(${value.getTime()})`
  if (typeof value === 'string') return objectIdField && /^[0-9a-f]{24}$/.test(value) ? `ObjectId('${value}')` : JSON.stringify(value)
  return typeof value === 'object' ? JSON.stringify(value) : String(value)
}

/**
 * The `_id`s a filter restricts the result to, or undefined when it does not pin `_id`. Only
 * shapes whose mingo semantics are plain string equality are recognised: `_id: "x"`,
 * `_id: { $eq: "x" }`, `_id: { $in: ["x", ...] }`; other top-level keys and other `$and` clauses
 * only narrow the result further (the whole filter is still tested on each candidate).
 */
export function pinnedIds(filter: Doc): string[] | undefined {
  if (Object.hasOwn(filter, '_id')) {
    const condition = filter._id
    if (typeof condition === 'string') return [condition]
    if (isPlainObject(condition)) {
      const keys = Object.keys(condition)
      if (keys.length === 1 && keys[0] === '$eq' && typeof condition.$eq === 'string') return [condition.$eq]
      if (keys.length === 1 && keys[0] === '$in' && Array.isArray(condition.$in) && condition.$in.every((id) => typeof id === 'string')) {
        return condition.$in as string[]
      }
    }
  }
  if (Array.isArray(filter.$and)) {
    for (const clause of filter.$and) {
      const ids = isPlainObject(clause) ? pinnedIds(clause) : undefined
      if (ids !== undefined) return ids
    }
  }
  return undefined
}

export class CollectionStore {
  private docs: Doc[] = []
  /** Position of each stored document in `docs`. */
  private positions = new Map<Doc, number>()
  /** Stored documents by string `_id`. */
  private readonly byId = new Map<string, Set<Doc>>()
  /** Stored documents whose `_id` is not a string (legacy seeds): lookups by `_id` scan while any is stored. */
  private unindexed = 0
  private readonly uniqueIndexes: UniqueIndex[]

  constructor(readonly model: CollectionModel) {
    this.uniqueIndexes = (model.definition.indexes ?? [])
      .filter((index) => index.unique)
      .map((definition) =>
        definition.partialFilterExpression
          ? { definition, partial: new Query(definition.partialFilterExpression, {}), holders: new Map() }
          : { definition, holders: new Map() },
      )
  }

  get size(): number {
    return this.docs.length
  }

  all(): readonly Doc[] {
    return this.docs
  }

  newId(): string {
    return this.model.idKind === 'objectid' ? newObjectId() : randomUUID()
  }

  matching(filter: Doc): Doc[] {
    const query = compileFilter(filter)
    const candidates = this.candidates(filter)
    return (candidates ?? this.docs).filter((doc) => query.test(doc))
  }

  first(filter: Doc): Doc | undefined {
    const query = compileFilter(filter)
    const candidates = this.candidates(filter)
    return (candidates ?? this.docs).find((doc) => query.test(doc))
  }

  insert(doc: Doc): void {
    const keys = this.indexKeys(doc)
    this.checkUnique(keys, undefined)
    this.positions.set(doc, this.docs.length)
    this.docs.push(doc)
    this.indexId(doc, 'add')
    this.index(doc, keys, 'add')
  }

  /** Swaps a stored document for its updated version, keeping its position (natural order). */
  replace(current: Doc, updated: Doc): void {
    const keys = this.indexKeys(updated)
    this.checkUnique(keys, current)
    const index = this.positions.get(current)
    if (index === undefined) throw new Error('CRUD emulator: replacing a document that is not stored')
    this.docs[index] = updated
    this.positions.delete(current)
    this.positions.set(updated, index)
    this.indexId(current, 'delete')
    this.indexId(updated, 'add')
    this.index(current, this.indexKeys(current), 'delete')
    this.index(updated, keys, 'add')
  }

  remove(doc: Doc): void {
    if (!this.positions.has(doc)) return
    this.docs = this.docs.filter((candidate) => candidate !== doc)
    this.positions = new Map(this.docs.map((candidate, index) => [candidate, index]))
    this.indexId(doc, 'delete')
    this.index(doc, this.indexKeys(doc), 'delete')
  }

  clear(): void {
    this.docs = []
    this.positions.clear()
    this.byId.clear()
    this.unindexed = 0
    for (const { holders } of this.uniqueIndexes) holders.clear()
  }

  /** The documents a filter pinning `_id` can match, in natural order; undefined when it must scan. */
  private candidates(filter: Doc): Doc[] | undefined {
    if (this.unindexed > 0) return undefined
    const ids = pinnedIds(filter)
    if (ids === undefined) return undefined
    const found = new Set<Doc>()
    for (const id of ids) for (const doc of this.byId.get(id) ?? []) found.add(doc)
    const docs = [...found]
    if (docs.length > 1) docs.sort((a, b) => (this.positions.get(a) ?? 0) - (this.positions.get(b) ?? 0))
    return docs
  }

  private indexId(doc: Doc, change: 'add' | 'delete'): void {
    const id = doc._id
    if (typeof id !== 'string') {
      this.unindexed += change === 'add' ? 1 : -1
      return
    }
    let docs = this.byId.get(id)
    if (change === 'add') {
      if (!docs) this.byId.set(id, (docs = new Set()))
      docs.add(doc)
    } else if (docs) {
      docs.delete(doc)
      if (docs.size === 0) this.byId.delete(id)
    }
  }

  /** A document's keys in each unique index (undefined where its partial filter leaves it out). */
  private indexKeys(doc: Doc): Array<Map<string, unknown[]> | undefined> {
    return this.uniqueIndexes.map(({ definition, partial }) => (partial && !partial.test(doc) ? undefined : this.keys(doc, definition)))
  }

  /** Adds or removes a stored document's keys in every unique index it falls under. */
  private index(doc: Doc, keys: Array<Map<string, unknown[]> | undefined>, change: 'add' | 'delete'): void {
    for (const [position, { holders }] of this.uniqueIndexes.entries()) {
      for (const key of keys[position]?.keys() ?? []) {
        let docs = holders.get(key)
        if (change === 'add') {
          if (!docs) holders.set(key, (docs = new Set()))
          docs.add(doc)
        } else if (docs) {
          docs.delete(doc)
          if (docs.size === 0) holders.delete(key)
        }
      }
    }
  }

  private keys(doc: Doc, index: CrudIndexDefinition): Map<string, unknown[]> {
    let tuples: unknown[][] = [[]]
    for (const field of index.fields) {
      const values = indexValues(doc, field.name.split('.'))
      tuples = tuples.flatMap((tuple) => values.map((value) => [...tuple, value]))
    }
    return new Map(tuples.map((tuple) => [canonical(tuple), tuple]))
  }

  private checkUnique(keys: Array<Map<string, unknown[]> | undefined>, self: Doc | undefined): void {
    for (const [position, { definition, holders }] of this.uniqueIndexes.entries()) {
      for (const [key, tuple] of keys[position] ?? []) {
        const docs = holders.get(key)
        if (docs && [...docs].some((other) => other !== self)) throw new DuplicateKeyError(this.duplicateMessage(definition, tuple))
      }
    }
  }

  private duplicateMessage(index: CrudIndexDefinition, tuple: unknown[]): string {
    const printed = index.fields
      .map((field, position) => {
        const objectIdField = this.model.resolve(field.name)?.schema?.__mia_configuration?.type === 'ObjectId'
        return `${field.name}: ${printKeyValue(tuple[position], objectIdField)}`
      })
      .join(', ')
    return `E11000 duplicate key error collection: ${DATABASE}.${this.model.name} index: ${index.name} dup key: { ${printed} }`
  }
}
