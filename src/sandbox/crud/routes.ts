// HTTP routes of one emulated collection: list, count, get, inserts, patches, upsert, deletes,
// state changes and schema, wired to the store with the CRUD Service's status codes and bodies.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { CrudHttpError, CrudNotFound, STATES, internalError, type CollectionModel, type CrudState, type Doc } from './model.js'
import { aclRowsFilter, combine, equalityDocument, translateFilter } from './filters.js'
import { DEFAULT_LIMIT, decodeJsonParam, parseQuery, parseStates, type ParsedQuery, type QueryHeaders, type SpecialParam } from './params.js'
import { applyPatch, upsertDocument, validatePatch, type PatchBody } from './patch.js'
import { parseReadColumns, projector, sortDocuments } from './read.js'
import { DuplicateKeyError, type CollectionStore } from './store.js'
import {
  additionalProperty,
  castQueryValue,
  checkItemKeys,
  coercePlainFilter,
  plainFilterSchema,
  requireNonEmptyArray,
  schemaError,
  validateInsertBody,
  validateStateBody,
  validateStateCommands,
} from './values.js'
import { isPlainObject } from '../../lib/plain-object.js'

export interface CollectionContext {
  model: CollectionModel
  store: CollectionStore
  /** Lower-case name of the header carrying the caller's user id. */
  userIdHeader: string
}

/** Target states allowed from each current state (same-state moves are no-ops). */
const TRANSITIONS: Record<CrudState, readonly CrudState[]> = {
  PUBLIC: ['PUBLIC', 'DRAFT', 'TRASH'],
  DRAFT: ['PUBLIC', 'DRAFT', 'TRASH'],
  TRASH: ['DRAFT', 'TRASH', 'DELETED'],
  DELETED: ['TRASH', 'DELETED'],
}

/** Source states a many-documents state change picks, by target state. */
const SOURCES: Record<CrudState, readonly CrudState[]> = {
  PUBLIC: ['DRAFT'],
  DRAFT: ['PUBLIC', 'TRASH'],
  TRASH: ['PUBLIC', 'DRAFT', 'DELETED'],
  DELETED: ['TRASH'],
}

type Request = FastifyRequest<{ Params: { id?: string }; Querystring: Record<string, unknown> }>

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** One clock reading and one user per request. */
function writer(request: FastifyRequest, context: CollectionContext): { now: Date; user: string } {
  const raw = header(request, context.userIdHeader)
  const user = raw === undefined || raw === '' || raw === 'null' || raw === 'undefined' ? 'public' : raw
  return { now: new Date(), user }
}

/** `json-query-params-encoding` (or its deprecated underscore alias) switches `_q`/`_rawp` to base64. */
function queryHeaders(request: FastifyRequest): QueryHeaders {
  const encoding = header(request, 'json-query-params-encoding') ?? header(request, 'json_query_params_encoding')
  return { base64: encoding === 'base64' }
}

function query(request: Request, context: CollectionContext, allowed: readonly SpecialParam[]): ParsedQuery {
  return parseQuery(context.model, request.query, allowed, queryHeaders(request))
}

interface FilterOptions {
  id?: string
  /** Apply the `_st` state filter (all routes except the state routes). */
  states: boolean
}

function buildFilter(request: Request, context: CollectionContext, parsed: ParsedQuery, options: FilterOptions): Doc {
  const { model } = context
  return combine([
    parsed.q === undefined ? {} : translateFilter(model, parsed.q),
    parsed.fields,
    options.id === undefined ? {} : { _id: model.pathId(options.id) },
    aclRowsFilter(model, header(request, 'acl_rows')),
    options.states ? { __STATE__: { $in: parsed.states } } : {},
  ])
}

/** Response of PATCH by id and upsert: declared fields restricted by `acl_read_columns`. */
function shapeWritten(request: Request, context: CollectionContext, doc: Doc): Doc {
  const shape = projector(context.model, { readColumns: parseReadColumns(header(request, 'acl_read_columns')) })
  return shape([doc])[0] ?? {}
}

function systemUpdate(now: Date, user: string): Doc {
  return { updaterId: user, updatedAt: now }
}

/** Duplicate keys outside inserts are not mapped by the CRUD Service: a 500 with MongoDB's code. */
function storeWrite(write: () => void): void {
  try {
    write()
  } catch (error) {
    if (error instanceof DuplicateKeyError) throw internalError(error.message, '11000')
    throw error
  }
}

function insertAll(context: CollectionContext, docs: Doc[]): void {
  try {
    for (const doc of docs) context.store.insert(doc)
  } catch (error) {
    if (error instanceof DuplicateKeyError) throw new CrudHttpError(409, error.message)
    throw error
  }
}

function newDocument(context: CollectionContext, body: Doc, now: Date, user: string): Doc {
  return {
    _id: context.store.newId(),
    ...body,
    __STATE__: body.__STATE__ ?? context.model.defaultState,
    creatorId: user,
    createdAt: now,
    updaterId: user,
    updatedAt: now,
  }
}

interface BulkPatch {
  filter: Doc
  patch: PatchBody
}

/** `PATCH /bulk` items: `filter` takes `_id`, `_q`, `_st` and plain equality fields; all checked before any write. */
function bulkPatches(request: Request, context: CollectionContext): BulkPatch[] {
  const { model } = context
  const items = requireNonEmptyArray(request.body).map((raw, index) => {
    const path = `body/${index}`
    const item = checkItemKeys(raw, path, ['filter', 'update'])
    const filterPath = `${path}/filter`
    if (!isPlainObject(item.filter)) throw schemaError(filterPath, 'must be object')
    const filter = item.filter
    for (const key of Object.keys(filter)) {
      if (!['_id', '_q', '_st'].includes(key) && plainFilterSchema(model, key) === undefined) throw additionalProperty(filterPath, key)
    }
    return { filter, path, patch: validatePatch(model, item.update, `${path}/update`, false) }
  })
  const acl = aclRowsFilter(model, header(request, 'acl_rows'))
  return items.map(({ filter, path, patch }) => {
    let states: CrudState[] = ['PUBLIC']
    const parts: Doc[] = []
    for (const [key, value] of Object.entries(filter)) {
      const valuePath = `${path}/filter/${key}`
      if (key === '_st') {
        if (typeof value !== 'string') throw schemaError(valuePath, 'must be string')
        states = parseStates(value, valuePath)
      } else if (key === '_q') {
        if (typeof value !== 'string') throw schemaError(valuePath, 'must be string')
        parts.push(translateFilter(model, decodeJsonParam(value, queryHeaders(request))))
      } else if (key === '_id') {
        if (typeof value !== 'string') throw schemaError(valuePath, 'must be string')
        parts.push({ _id: model.idKind === 'objectid' ? castQueryValue('objectid', value) : value })
      } else {
        const schema = plainFilterSchema(model, key)
        if (schema) parts.push({ [key]: coercePlainFilter(schema, value, valuePath) })
      }
    }
    return { filter: combine([...parts, acl, { __STATE__: { $in: states } }]), patch }
  })
}

export function registerCollectionRoutes(app: FastifyInstance, context: CollectionContext): void {
  const { model, store } = context
  const base = model.basePath

  const list = async (request: Request, reply: FastifyReply) => {
    const parsed = query(request, context, ['_q', '_st', '_p', '_rawp', '_s', '_l', '_sk', '_id'])
    const shape = projector(model, { p: parsed.p, rawp: parsed.rawp, readColumns: parseReadColumns(header(request, 'acl_read_columns')) })
    const matches = store.matching(buildFilter(request, context, parsed, { states: true }))
    const defaultSort = Object.entries(model.definition.defaultSorting ?? {})
    const sorted = sortDocuments(matches, parsed.sort ?? defaultSort)
    const page = sorted.slice(parsed.skip, parsed.skip + (parsed.limit ?? DEFAULT_LIMIT))
    // Exactly `application/json` like the real streamed list; a Buffer, as Fastify adds a charset to strings.
    return reply.header('content-type', 'application/json').send(Buffer.from(JSON.stringify(shape(page))))
  }

  const insert = async (request: Request) => {
    const { now, user } = writer(request, context)
    const doc = newDocument(context, validateInsertBody(model, request.body, 'body'), now, user)
    insertAll(context, [doc])
    return { _id: doc._id }
  }

  const patchMany = async (request: Request) => {
    const patch = validatePatch(model, request.body, 'body', false)
    const parsed = query(request, context, ['_q', '_st', '_id'])
    const { now, user } = writer(request, context)
    const matches = store.matching(buildFilter(request, context, parsed, { states: true }))
    let modified = 0
    for (const doc of matches) {
      storeWrite(() => store.replace(doc, applyPatch(doc, patch, systemUpdate(now, user))))
      modified += 1
    }
    return modified
  }

  const deleteMany = async (request: Request) => {
    const parsed = query(request, context, ['_q', '_st'])
    const matches = store.matching(buildFilter(request, context, parsed, { states: true }))
    for (const doc of matches) store.remove(doc)
    return matches.length
  }

  for (const url of [base, `${base}/`]) {
    app.get(url, list)
    app.post(url, insert)
    app.patch(url, patchMany)
    app.delete(url, deleteMany)
  }

  app.get(`${base}/count`, async (request: Request) => {
    const parsed = query(request, context, ['_q', '_st', '_id', '_useEstimate'])
    if (parsed.useEstimate) return store.size
    return store.matching(buildFilter(request, context, parsed, { states: true })).length
  })

  app.get(`${base}/schema`, async () => ({
    type: 'object',
    properties: model.all,
    required: ['_id', ...model.required],
  }))

  app.post(`${base}/bulk`, async (request: Request) => {
    if (!Array.isArray(request.body)) throw schemaError('body', 'must be array')
    const bodies = request.body.map((item, index) => validateInsertBody(model, item, `body/${index}`))
    if (bodies.length === 0) throw new CrudHttpError(500, 'At least one element is required', 'ERR_ASSERTION')
    const { now, user } = writer(request, context)
    const docs = bodies.map((body) => newDocument(context, body, now, user))
    insertAll(context, docs)
    return docs.map((doc) => ({ _id: doc._id }))
  })

  app.patch(`${base}/bulk`, async (request: Request) => {
    const patches = bulkPatches(request, context)
    const { now, user } = writer(request, context)
    let modified = 0
    for (const { filter, patch } of patches) {
      const doc = store.first(filter)
      if (!doc) continue
      storeWrite(() => store.replace(doc, applyPatch(doc, patch, systemUpdate(now, user))))
      modified += 1
    }
    return modified
  })

  app.post(`${base}/upsert-one`, async (request: Request) => {
    const patch = validatePatch(model, request.body, 'body', true)
    const parsed = query(request, context, ['_q', '_st'])
    const { now, user } = writer(request, context)
    const filter = buildFilter(request, context, parsed, { states: true })
    const existing = store.first(filter)
    let result: Doc
    if (existing) {
      result = applyPatch(existing, patch, systemUpdate(now, user))
      storeWrite(() => store.replace(existing, result))
    } else {
      const seed = equalityDocument(filter)
      if (seed._id === undefined) seed._id = store.newId()
      const system = { creatorId: user, createdAt: now, __STATE__: model.defaultState, ...systemUpdate(now, user) }
      result = upsertDocument(seed, patch, system)
      storeWrite(() => store.insert(result))
    }
    return shapeWritten(request, context, result)
  })

  app.post(`${base}/state`, async (request: Request) => {
    const commands = validateStateCommands(model, request.body)
    const { now, user } = writer(request, context)
    const acl = aclRowsFilter(model, header(request, 'acl_rows'))
    let changed = 0
    for (const { filter, stateTo } of commands) {
      const matches = store.matching(combine([filter, acl, { __STATE__: { $in: SOURCES[stateTo] } }]))
      for (const doc of matches) {
        storeWrite(() => store.replace(doc, applyPatch(doc, { $set: { __STATE__: stateTo } }, systemUpdate(now, user))))
        changed += 1
      }
    }
    return changed
  })

  const byId = (request: Request): string => request.params.id ?? ''

  app.get(`${base}/:id`, async (request: Request) => {
    const parsed = query(request, context, ['_q', '_st', '_p', '_rawp'])
    const shape = projector(model, { p: parsed.p, rawp: parsed.rawp, readColumns: parseReadColumns(header(request, 'acl_read_columns')) })
    const doc = store.first(buildFilter(request, context, parsed, { id: byId(request), states: true }))
    if (!doc) throw new CrudNotFound()
    return shape([doc])[0]
  })

  app.patch(`${base}/:id`, async (request: Request) => {
    const patch = validatePatch(model, request.body, 'body', false)
    const parsed = query(request, context, ['_q', '_st'])
    const { now, user } = writer(request, context)
    const doc = store.first(buildFilter(request, context, parsed, { id: byId(request), states: true }))
    if (!doc) throw new CrudNotFound()
    const updated = applyPatch(doc, patch, systemUpdate(now, user))
    storeWrite(() => store.replace(doc, updated))
    return shapeWritten(request, context, updated)
  })

  app.delete(`${base}/:id`, async (request: Request, reply: FastifyReply) => {
    const parsed = query(request, context, ['_q', '_st'])
    const doc = store.first(buildFilter(request, context, parsed, { id: byId(request), states: true }))
    if (!doc) throw new CrudNotFound()
    store.remove(doc)
    return reply.code(204).send()
  })

  app.post(`${base}/:id/state`, async (request: Request, reply: FastifyReply) => {
    const stateTo = validateStateBody(request.body)
    const parsed = query(request, context, ['_q'])
    const { now, user } = writer(request, context)
    const doc = store.first(buildFilter(request, context, parsed, { id: byId(request), states: false }))
    if (!doc) throw new CrudNotFound()
    const current = STATES.find((state) => state === doc.__STATE__)
    if (current !== undefined && !TRANSITIONS[current].includes(stateTo)) {
      throw new CrudHttpError(400, `transition from ${current} to ${stateTo} not allowed.`)
    }
    storeWrite(() => store.replace(doc, applyPatch(doc, { $set: { __STATE__: stateTo } }, systemUpdate(now, user))))
    return reply.code(204).send()
  })
}
