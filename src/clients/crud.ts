// CRUD Service client: one object per collection endpoint, methods
// named after the remote routes. Internal reads of one document ask every state.
import type { Dispatcher } from 'undici'
import type { CallContext, PeerClient, PeerRequest, QueryValue } from './http.js'
import { ACL_HEADERS, CRUD_QUERY_ENCODING_HEADERS, pickHeaders } from './headers.js'

export const CRUD_STATES = ['PUBLIC', 'DRAFT', 'TRASH', 'DELETED'] as const
export type CrudState = (typeof CRUD_STATES)[number]
export const ALL_STATES = CRUD_STATES.join(',')

/** The caller's headers a proxied read passes on: its ACLs and how its `_q` is encoded. */
const PROXIED_READ_HEADERS = [...ACL_HEADERS, ...CRUD_QUERY_ENCODING_HEADERS]

export type CrudDocument = Record<string, unknown> & { _id: string }
export type CrudQuery = Record<string, QueryValue>
export type CrudUpdate = Partial<Record<'$set' | '$unset' | '$inc' | '$mul' | '$currentDate' | '$push' | '$pull' | '$addToSet', Record<string, unknown>>>
/** Fields the CRUD writes itself on every document: no client body may carry them. */
export const CRUD_METADATA_FIELDS = ['_id', '__STATE__', 'creatorId', 'createdAt', 'updaterId', 'updatedAt'] as const

export class CrudCollection {
  constructor(
    private readonly http: PeerClient,
    /** Collection path, e.g. `/users` (no trailing slash). */
    readonly endpoint: string,
  ) {}

  private request(request: Omit<PeerRequest, 'path' | 'route'> & { suffix: string; routeSuffix?: string }) {
    const { suffix, routeSuffix, ...rest } = request
    return { ...rest, path: `${this.endpoint}${suffix}`, route: `${this.endpoint}${routeSuffix ?? suffix}` }
  }

  async list<T = CrudDocument>(query: CrudQuery, ctx: CallContext): Promise<T[]> {
    const response = await this.http.call<T[]>(this.request({ method: 'GET', suffix: '/', query }), ctx)
    return response.body
  }

  /** First document matching `filter` (a MongoDB query), in any of `states`. */
  async findOne<T = CrudDocument>(filter: Record<string, unknown>, ctx: CallContext, states = 'PUBLIC'): Promise<T | undefined> {
    const [first] = await this.list<T>({ _q: JSON.stringify(filter), _st: states, _l: 1 }, ctx)
    return first
  }

  async count(query: CrudQuery, ctx: CallContext): Promise<number> {
    const response = await this.http.call<number>(this.request({ method: 'GET', suffix: '/count', query }), ctx)
    return response.body
  }

  /** One document by `_id` in any state; undefined when the CRUD answers 404. */
  async getById<T = CrudDocument>(id: string, ctx: CallContext, states = ALL_STATES): Promise<T | undefined> {
    const response = await this.http.call<T>(
      this.request({ method: 'GET', suffix: `/${encodeURIComponent(id)}`, routeSuffix: '/:id', query: { _st: states }, acceptStatus: [404] }),
      ctx,
    )
    return response.status === 404 ? undefined : response.body
  }

  async insert(document: Record<string, unknown>, ctx: CallContext): Promise<string> {
    const response = await this.http.call<{ _id: string }>(this.request({ method: 'POST', suffix: '/', json: document }), ctx)
    return response.body._id
  }

  async insertMany(documents: Record<string, unknown>[], ctx: CallContext): Promise<string[]> {
    const response = await this.http.call<Array<{ _id: string }>>(this.request({ method: 'POST', suffix: '/bulk', json: documents }), ctx)
    return response.body.map((item) => item._id)
  }

  /** Patches one document in any state; undefined when the CRUD answers 404. */
  async patchById<T = CrudDocument>(id: string, update: CrudUpdate, ctx: CallContext, states = ALL_STATES): Promise<T | undefined> {
    const response = await this.http.call<T>(
      this.request({ method: 'PATCH', suffix: `/${encodeURIComponent(id)}`, routeSuffix: '/:id', query: { _st: states }, json: update, acceptStatus: [404] }),
      ctx,
    )
    return response.status === 404 ? undefined : response.body
  }

  async patchBulk(items: Array<{ filter: Record<string, unknown>; update: CrudUpdate }>, ctx: CallContext): Promise<number> {
    const response = await this.http.call<number>(this.request({ method: 'PATCH', suffix: '/bulk', json: items }), ctx)
    return response.body
  }

  /**
   * `POST /upsert-one`: updates the first document matching `filter` in any of `states`; without
   * one, inserts a document made of the filter's equality conditions and `$setOnInsert`, in the
   * collection's default state. Answers the resulting document.
   */
  async upsertOne<T = CrudDocument>(filter: Record<string, unknown>, update: CrudUpdate & { $setOnInsert?: Record<string, unknown> }, ctx: CallContext, states = ALL_STATES): Promise<T> {
    const response = await this.http.call<T>(this.request({ method: 'POST', suffix: '/upsert-one', query: { _q: JSON.stringify(filter), _st: states }, json: update }), ctx)
    return response.body
  }

  /** Deletes one document in any state; false when it did not exist. */
  async deleteById(id: string, ctx: CallContext, states = ALL_STATES): Promise<boolean> {
    const response = await this.http.call(
      this.request({ method: 'DELETE', suffix: `/${encodeURIComponent(id)}`, routeSuffix: '/:id', query: { _st: states }, acceptStatus: [404] }),
      ctx,
    )
    return response.status !== 404
  }

  /** `POST /:id/state`; the CRUD looks the document up whatever its state. */
  async setState(id: string, stateTo: CrudState, ctx: CallContext): Promise<void> {
    await this.http.call(
      this.request({ method: 'POST', suffix: `/${encodeURIComponent(id)}/state`, routeSuffix: '/:id/state', json: { stateTo } }),
      ctx,
    )
  }

  /**
   * A caller's read passed through unchanged (query string, ACL and query-encoding headers), answered as a
   * stream so the body is never parsed here.
   */
  proxyRead(suffix: '/' | '/count' | `/${string}`, rawQuery: string, ctx: CallContext): Promise<Dispatcher.ResponseData> {
    const routeSuffix = suffix === '/' || suffix === '/count' ? suffix : '/:id'
    // Built directly rather than through request(): this runs on every proxied read.
    return this.http.dispatch(
      {
        method: 'GET',
        path: `${this.endpoint}${suffix}`,
        route: `${this.endpoint}${routeSuffix}`,
        query: rawQuery,
        headers: pickHeaders(ctx.incoming, PROXIED_READ_HEADERS),
      },
      ctx,
    )
  }
}

export class CrudClient {
  readonly users: CrudCollection
  readonly umsConfig: CrudCollection
  readonly roles: CrudCollection | undefined
  /** Rönd's bindings, read only. */
  readonly bindings: CrudCollection | undefined

  constructor(
    readonly http: PeerClient,
    endpoints: { users: string; umsConfig: string; roles: string | undefined; bindings?: string | undefined },
  ) {
    this.users = new CrudCollection(http, endpoints.users)
    this.umsConfig = new CrudCollection(http, endpoints.umsConfig)
    this.roles = endpoints.roles === undefined ? undefined : new CrudCollection(http, endpoints.roles)
    this.bindings = endpoints.bindings === undefined ? undefined : new CrudCollection(http, endpoints.bindings)
  }

  async checkHealth(ctx: CallContext): Promise<void> {
    await this.http.call({ method: 'GET', path: '/-/healthz', route: '/-/healthz' }, ctx)
  }
}
