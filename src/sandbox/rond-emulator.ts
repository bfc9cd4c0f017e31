// In-memory emulator of Rönd in standalone mode: the four binding-management routes and the status
// routes. The real service stores bindings through a CRUD endpoint; the emulator keeps them itself,
// and copies each change to a CRUD emulator's collection when given one (the sandbox stack does, so
// that ums can read them as it would Rönd's). Request decoding mimics Go's `json.Decoder`
// (rond/go-json-errors.ts) so that malformed bodies produce the same 500 reasons as the real service.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Emulator } from './emulator-kit.js'
import { bindStruct, decodeFirstValue, GoDecodeFailure, type Bound, type GoKind } from './rond/go-json-errors.js'

export interface Binding {
  bindingId: string
  subjects?: string[]
  groups?: string[]
  roles?: string[]
  permissions?: string[]
  resource?: { resourceType: string; resourceId: string }
}

/**
 * A copy of the bindings kept elsewhere (a CRUD collection), told of every change as it happens;
 * the emulator reads its own.
 */
export interface BindingsMirror {
  added(binding: Binding): void
  changed(binding: Binding): void
  removed(bindingIds: string[]): void
  cleared(): void
}

/** Rönd's generic business message, sent on every error of the standalone routes. */
const GENERIC_MESSAGE = 'Internal server error, please try again later'
/** Rönd reads at most this many bindings per revoke (no pagination). */
const BINDINGS_MAX_PAGE_SIZE = 200

const GRANT = '/grant/bindings'
const GRANT_RESOURCE = '/grant/bindings/resource/:resourceType'
const REVOKE = '/revoke/bindings'
const REVOKE_RESOURCE = '/revoke/bindings/resource/:resourceType'

/** The Go structs Rönd decodes grant and revoke bodies into. */
const GRANT_FIELDS: Record<string, GoKind> = {
  resourceId: 'string',
  subjects: '[]string',
  groups: '[]string',
  roles: '[]string',
  permissions: '[]string',
}
const REVOKE_FIELDS: Record<string, GoKind> = { subjects: '[]string', groups: '[]string', resourceIds: '[]string' }

type DecodedRequest = FastifyRequest & { decoded?: Bound | GoDecodeFailure }

function copyBinding(binding: Binding): Binding {
  return structuredClone(binding)
}

const asList = (value: string | string[] | undefined): string[] => (Array.isArray(value) ? value : [])

/** Rönd labels JSON bodies `application/json` without a charset; a Buffer keeps Fastify from adding one. */
function sendJson(reply: FastifyReply, statusCode: number, body: unknown): FastifyReply {
  return reply.code(statusCode).header('content-type', 'application/json').send(Buffer.from(JSON.stringify(body)))
}

function sendError(reply: FastifyReply, statusCode: number, reason: string): FastifyReply {
  return sendJson(reply, statusCode, { error: reason, message: GENERIC_MESSAGE, statusCode })
}

/** Rönd writes success bodies without a Content-Type; Go's sniffing labels them text/plain. */
function sendSniffedJson(reply: FastifyReply, body: unknown): FastifyReply {
  return reply.code(200).type('text/plain; charset=utf-8').send(JSON.stringify(body))
}

/**
 * The route parameter as gorilla/mux with `UseEncodedPath` sees it: still percent-encoded.
 * Fastify decodes params, so it is taken from the raw URL instead. Empty only on the plain routes.
 */
function rawResourceType(request: FastifyRequest): string {
  const path = request.url.split('?')[0] ?? ''
  return path.slice(path.lastIndexOf('/') + 1)
}

export class RondEmulator extends Emulator {
  private store: Binding[] = []
  private readonly mirror: BindingsMirror | undefined

  /** `mirror` is read at request time: routes are registered before the constructor's body runs. */
  constructor(options: { mirror?: BindingsMirror } = {}) {
    super()
    this.mirror = options.mirror
  }

  protected registerRoutes(app: FastifyInstance): void {
    // Rönd decodes every body as JSON whatever its Content-Type, so one raw parser handles all.
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
      done(null, body)
    })
    app.addHook('preValidation', async (request) => {
      if (request.method !== 'POST' || request.routeOptions.url === undefined) return
      const route = request.routeOptions.url
      const isGrant = route === GRANT || route === GRANT_RESOURCE
      const isRevoke = route === REVOKE || route === REVOKE_RESOURCE
      if (!isGrant && !isRevoke) return
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      const first = decodeFirstValue(raw)
      const decoded =
        first instanceof GoDecodeFailure
          ? first
          : isGrant
            ? bindStruct(first.value, 'GrantRequestBody', GRANT_FIELDS)
            : bindStruct(first.value, 'RevokeRequestBody', REVOKE_FIELDS)
      // The request log (written in preHandler) then shows the JSON value, not raw bytes.
      request.body = first instanceof GoDecodeFailure ? first : first.value
      ;(request as DecodedRequest).decoded = decoded
    })

    // The preValidation hook sets `decoded` on every POST to these routes.
    const decodedOf = (request: FastifyRequest) => (request as DecodedRequest).decoded ?? new GoDecodeFailure('EOF')

    // gorilla's `{resourceType}` needs at least one character; find-my-way accepts an empty one.
    const emptyResourceType = (request: FastifyRequest) =>
      (request.routeOptions.url === GRANT_RESOURCE || request.routeOptions.url === REVOKE_RESOURCE) &&
      rawResourceType(request) === ''

    const grant = async (request: FastifyRequest, reply: FastifyReply) => {
      if (emptyResourceType(request)) return reply.callNotFound()
      const decoded = decodedOf(request)
      if (decoded instanceof GoDecodeFailure) return sendError(reply, 500, decoded.message)
      const resourceType = request.routeOptions.url === GRANT_RESOURCE ? rawResourceType(request) : ''
      const resourceId = typeof decoded.resourceId === 'string' ? decoded.resourceId : ''
      if (resourceType !== '' && resourceId === '') return sendError(reply, 400, 'missing resource id')
      const subjects = asList(decoded.subjects)
      const groups = asList(decoded.groups)
      const roles = asList(decoded.roles)
      const permissions = asList(decoded.permissions)
      if (groups.length + permissions.length + subjects.length + roles.length === 0) {
        return sendError(reply, 400, 'missing body fields, one of groups, permissions, subjects or roles is required')
      }
      // Empty lists are omitted from the stored document, as Go's `omitempty` does.
      const binding: Binding = { bindingId: randomUUID() }
      if (subjects.length > 0) binding.subjects = subjects
      if (groups.length > 0) binding.groups = groups
      if (roles.length > 0) binding.roles = roles
      if (permissions.length > 0) binding.permissions = permissions
      if (resourceType !== '') binding.resource = { resourceType, resourceId }
      this.store.push(binding)
      this.mirror?.added(copyBinding(binding))
      return sendSniffedJson(reply, { bindingId: binding.bindingId })
    }

    const revoke = async (request: FastifyRequest, reply: FastifyReply) => {
      if (emptyResourceType(request)) return reply.callNotFound()
      const decoded = decodedOf(request)
      if (decoded instanceof GoDecodeFailure) return sendError(reply, 500, decoded.message)
      const resourceType = request.routeOptions.url === REVOKE_RESOURCE ? rawResourceType(request) : ''
      const subjects = asList(decoded.subjects)
      const groups = asList(decoded.groups)
      const resourceIds = asList(decoded.resourceIds)
      const hasResourceIds = resourceType !== '' && resourceIds.length > 0
      const hasSubjectsOrGroups = subjects.length > 0 || groups.length > 0
      if (!hasResourceIds && !hasSubjectsOrGroups) {
        return sendError(reply, 400, 'empty subjects and groups lists or resource ids')
      }
      const namesWho = (binding: Binding) =>
        (binding.subjects ?? []).some((s) => subjects.includes(s)) || (binding.groups ?? []).some((g) => groups.includes(g))
      const onResources = (binding: Binding) =>
        binding.resource !== undefined &&
        binding.resource.resourceType === resourceType &&
        resourceIds.includes(binding.resource.resourceId)
      const found = this.store
        .filter((binding) => {
          if (resourceType === '') return namesWho(binding)
          return onResources(binding) && (!hasSubjectsOrGroups || namesWho(binding))
        })
        .slice(0, BINDINGS_MAX_PAGE_SIZE)

      const toDelete = new Set<Binding>()
      let modifiedBindings = 0
      for (const binding of found) {
        if (!hasSubjectsOrGroups) {
          toDelete.add(binding)
          continue
        }
        const remainingSubjects = (binding.subjects ?? []).filter((s) => !subjects.includes(s))
        const remainingGroups = (binding.groups ?? []).filter((g) => !groups.includes(g))
        if (remainingSubjects.length === 0 && remainingGroups.length === 0) {
          toDelete.add(binding)
          continue
        }
        // Rönd's bulk patch sets both lists, empty ones included.
        binding.subjects = remainingSubjects
        binding.groups = remainingGroups
        modifiedBindings += 1
        this.mirror?.changed(copyBinding(binding))
      }
      this.store = this.store.filter((binding) => !toDelete.has(binding))
      if (toDelete.size > 0) this.mirror?.removed([...toDelete].map((binding) => binding.bindingId))
      return sendSniffedJson(reply, { deletedBindings: toDelete.size, modifiedBindings })
    }

    // gorilla/mux answers 405 with an empty body when the path matches but the method does not.
    const methodNotAllowed = async (_request: FastifyRequest, reply: FastifyReply) => reply.code(405).send()
    const otherMethods = ['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']
    for (const [url, handler] of [
      [GRANT, grant],
      [GRANT_RESOURCE, grant],
      [REVOKE, revoke],
      [REVOKE_RESOURCE, revoke],
    ] as const) {
      app.post(url, handler)
      app.route({ method: otherMethods, url, handler: methodNotAllowed })
    }

    // The status routes are registered without a method restriction in Rönd.
    for (const url of ['/-/rbac-healthz', '/-/rbac-ready', '/-/rbac-check-up']) {
      app.all(url, async (_request, reply) => sendJson(reply, 200, { status: 'OK', name: 'rönd', version: '1.15.0' }))
    }

    // Not a Rönd route: the stored bindings, for people trying the sandbox (the real service keeps
    // them in a CRUD collection they could read instead).
    app.get('/__emulator/bindings', async (_request, reply) => sendJson(reply, 200, this.bindings()))
  }

  protected clearState(): void {
    this.store = []
    this.mirror?.cleared()
  }

  /** Copies of the stored bindings, in creation order. */
  bindings(): Binding[] {
    return this.store.map(copyBinding)
  }

  seedBinding(binding: Omit<Binding, 'bindingId'> & { bindingId?: string }): Binding {
    const stored: Binding = copyBinding({ ...binding, bindingId: binding.bindingId ?? randomUUID() })
    this.store.push(stored)
    this.mirror?.added(copyBinding(stored))
    return copyBinding(stored)
  }

  /** Union of the roles of every binding that names `subject`, in first-seen order. */
  rolesOf(subject: string): string[] {
    const roles = new Set<string>()
    for (const binding of this.store) {
      if (binding.subjects?.includes(subject)) for (const role of binding.roles ?? []) roles.add(role)
    }
    return [...roles]
  }
}
