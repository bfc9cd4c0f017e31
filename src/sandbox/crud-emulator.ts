// In-memory HTTP emulator of the Mia-Platform CRUD Service (v7 contract): collections from
// definitions, health routes, error framing, and a seeding/inspection surface for tests.
import type { FastifyError, FastifyInstance } from 'fastify'
import { Emulator } from './emulator-kit.js'
import { CollectionModel, CrudHttpError, CrudNotFound, reason, type CrudCollectionDefinition, type Doc } from './crud/model.js'
import { registerCollectionRoutes } from './crud/routes.js'
import { CollectionStore } from './crud/store.js'
import { toStoredValue } from './crud/values.js'
import { messageOf } from '../lib/message-of.js'

export type { CrudCollectionDefinition, CrudFieldSchema, CrudIndexDefinition, CrudState } from './crud/model.js'

export interface CrudEmulatorOptions {
  collections?: CrudCollectionDefinition[]
  /** Header carrying the caller's user id for creatorId/updaterId (USER_ID_HEADER_KEY). Default `miauserid`. */
  userIdHeaderKey?: string
}

const HEALTH = { name: 'crud-service', status: 'OK', version: '7.2.5' }

export class CrudEmulator extends Emulator {
  // Assigned in the constructor: registerRoutes runs inside super(), before field initialisers.
  private collections!: Map<string, { model: CollectionModel; store: CollectionStore }>
  private userIdHeaderKey!: string

  constructor(options: CrudEmulatorOptions = {}) {
    super()
    this.collections = new Map()
    this.userIdHeaderKey = (options.userIdHeaderKey ?? 'miauserid').toLowerCase()
    for (const definition of options.collections ?? []) this.addCollection(definition)
  }

  protected registerRoutes(app: FastifyInstance): void {
    for (const path of ['/-/healthz', '/-/ready', '/-/check-up']) app.get(path, async () => HEALTH)
    // Fastify 4 (the real service) answers a malformed body with the bare JSON parser message.
    app.removeContentTypeParser('application/json')
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      if (body === '') {
        done(new CrudHttpError(400, "Body cannot be empty when content-type is set to 'application/json'", 'FST_ERR_CTP_EMPTY_JSON_BODY'))
        return
      }
      try {
        done(null, JSON.parse(String(body)))
      } catch (error) {
        done(new CrudHttpError(400, messageOf(error)))
      }
    })
    app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'not found' }))
    app.setErrorHandler((error: FastifyError | CrudHttpError | CrudNotFound, _request, reply) => {
      if (error instanceof CrudNotFound) return reply.code(404).send({ error: 'not found' })
      if (error instanceof CrudHttpError) return reply.code(error.statusCode).send(error.body())
      const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500
      const body: Doc = { statusCode: status, error: reason(status), message: error.message }
      if (error.code) body.code = error.code
      return reply.code(status).send(body)
    })
  }

  protected clearState(): void {
    for (const { store } of this.collections.values()) store.clear()
  }

  /** Routes are registered on the Fastify instance, so collections must be added before `start()`. */
  addCollection(definition: CrudCollectionDefinition): void {
    const model = new CollectionModel(definition)
    if (this.collections.has(model.basePath)) throw new Error(`collection ${model.basePath} already defined`)
    if (this.app.server.listening) throw new Error(`collection ${model.basePath}: add collections before start()`)
    const store = new CollectionStore(model)
    registerCollectionRoutes(this.app, { model, store, userIdHeader: this.userIdHeaderKey })
    this.collections.set(model.basePath, { model, store })
  }

  /**
   * Inserts documents without HTTP and without validation (unique indexes still apply). Wire-form
   * dates are converted; missing system fields are filled in (`__STATE__` with the collection
   * default unless the key is given; `__STATE__: undefined` leaves it out). Returns the `_id`s.
   */
  seed(basePath: string, docs: Record<string, unknown>[], options: { userId?: string } = {}): string[] {
    const { model, store } = this.collection(basePath)
    const now = new Date()
    const user = options.userId ?? 'public'
    return docs.map((raw) => {
      const doc: Doc = {}
      for (const [key, value] of Object.entries(raw)) doc[key] = toStoredValue(model.all[key], value)
      doc._id ??= store.newId()
      doc.creatorId ??= user
      doc.createdAt ??= now
      doc.updaterId ??= user
      doc.updatedAt ??= now
      // An explicit `__STATE__: undefined` seeds a legacy document without state.
      if (!Object.hasOwn(raw, '__STATE__')) doc.__STATE__ = model.defaultState
      else if (doc.__STATE__ === undefined) delete doc.__STATE__
      store.insert(doc)
      return String(doc._id)
    })
  }

  /** Empties one collection. */
  clearCollection(basePath: string): void {
    this.collection(basePath).store.clear()
  }

  /** Removes the documents matching `filter` (a MongoDB query), without HTTP. */
  removeMatching(basePath: string, filter: Record<string, unknown>): void {
    const { store } = this.collection(basePath)
    for (const doc of store.matching(filter)) store.remove(doc)
  }

  /** Sets `fields` on the documents matching `filter` (wire-form values, as `seed` takes them), without HTTP. */
  setMatching(basePath: string, filter: Record<string, unknown>, fields: Record<string, unknown>): void {
    const { model, store } = this.collection(basePath)
    for (const doc of store.matching(filter)) {
      const updated: Doc = { ...doc, updatedAt: new Date() }
      for (const [key, value] of Object.entries(fields)) updated[key] = toStoredValue(model.all[key], value)
      store.replace(doc, updated)
    }
  }

  /** Deep copies of the stored documents in wire form (dates as ISO strings), in natural order. */
  documents(basePath: string): Record<string, unknown>[] {
    return JSON.parse(JSON.stringify(this.collection(basePath).store.all())) as Record<string, unknown>[]
  }

  private collection(basePath: string): { model: CollectionModel; store: CollectionStore } {
    const entry = this.collections.get(basePath)
    if (!entry) throw new Error(`no collection with base path ${basePath}`)
    return entry
  }
}
