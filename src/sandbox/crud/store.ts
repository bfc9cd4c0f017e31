// In-memory storage of one emulated collection: documents in insertion order, filter matching
// with mingo, id generation and unique-index enforcement with MongoDB's E11000 message.
import { randomBytes, randomUUID } from 'node:crypto'
import { Query } from 'mingo'
import { internalError, isPlainObject, type CollectionModel, type CrudIndexDefinition, type Doc } from './model.js'

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
    throw internalError(error instanceof Error ? error.message : String(error))
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

export class CollectionStore {
  private docs: Doc[] = []
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
    return this.docs.filter((doc) => query.test(doc))
  }

  first(filter: Doc): Doc | undefined {
    const query = compileFilter(filter)
    return this.docs.find((doc) => query.test(doc))
  }

  insert(doc: Doc): void {
    const keys = this.indexKeys(doc)
    this.checkUnique(keys, undefined)
    this.docs.push(doc)
    this.index(doc, keys, 'add')
  }

  /** Swaps a stored document for its updated version, keeping its position (natural order). */
  replace(current: Doc, updated: Doc): void {
    const keys = this.indexKeys(updated)
    this.checkUnique(keys, current)
    const index = this.docs.indexOf(current)
    if (index < 0) throw new Error('CRUD emulator: replacing a document that is not stored')
    this.docs[index] = updated
    this.index(current, this.indexKeys(current), 'delete')
    this.index(updated, keys, 'add')
  }

  remove(doc: Doc): void {
    this.docs = this.docs.filter((candidate) => candidate !== doc)
    this.index(doc, this.indexKeys(doc), 'delete')
  }

  clear(): void {
    this.docs = []
    for (const { holders } of this.uniqueIndexes) holders.clear()
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
