// In-memory emulator of Rönd in standalone mode: the four binding-management routes and the status
// routes (contract: shared/contracts/rond.md). The real service stores bindings through a CRUD
// endpoint; the emulator keeps them itself, and copies each change to a CRUD emulator's collection
// when given one (the sandbox stack does, so that ums can read them as it would Rönd's). Request decoding mimics Go's `json.Decoder` so that
// malformed bodies produce the same 500 reasons as the real service.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Emulator } from './emulator-kit.js'

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
/** Go's `encoding/json` nesting limit. */
const MAX_NESTING_DEPTH = 10000

const GRANT = '/grant/bindings'
const GRANT_RESOURCE = '/grant/bindings/resource/:resourceType'
const REVOKE = '/revoke/bindings'
const REVOKE_RESOURCE = '/revoke/bindings/resource/:resourceType'

// ------------------------------------------------------------------------------------------------
// Go `json.Decoder` emulation: decode the first JSON value only (trailing bytes are ignored),
// report syntax errors with Go's wording, then bind the value to a Go struct of string / []string
// fields (case-insensitive keys, unknown keys ignored, type mismatches reported).

/** Marks a body that Go's decoder would reject; kept as the parsed body so the request log shows it. */
class GoDecodeFailure {
  constructor(readonly message: string) {}
}

class SyntaxFailure extends Error {}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
const isDigit = (c: number) => c >= 0x30 && c <= 0x39
const isHex = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)

/** Go's `quoteChar`: the offending byte as Go's strconv.Quote renders it, in single quotes. */
function quoteByte(c: number): string {
  if (c === 0x27) return `'\\''`
  if (c === 0x22) return `'"'`
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 0x5c: '\\\\' }
  const known = named[c]
  if (known) return `'${known}'`
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, '0')}'`
  // Go turns the lone byte into the rune U+00XX; the non-printable ones are escaped.
  if ((c >= 0x80 && c <= 0xa0) || c === 0xad) return `'\\u00${c.toString(16)}'`
  return `'${String.fromCharCode(c)}'`
}

/** Returns the end offset of the first JSON value in `b`, or throws a SyntaxFailure with Go's message. */
function scanFirstValue(b: Uint8Array, start: number): number {
  const n = b.length
  let i = start
  const stack: Array<'object' | 'array'> = []
  const invalid = (context: string): never => {
    throw new SyntaxFailure(`invalid character ${quoteByte(b[i] ?? 0)} ${context}`)
  }
  const next = (): number => {
    const c = b[i]
    if (c === undefined) throw new SyntaxFailure('unexpected EOF')
    return c
  }
  const skipSpace = () => {
    while (i < n && isSpace(b[i] ?? 0)) i++
  }
  const push = (kind: 'object' | 'array') => {
    stack.push(kind)
    if (stack.length > MAX_NESTING_DEPTH) invalid('exceeded max depth')
    i++
  }
  const digits = () => {
    while (i < n && isDigit(b[i] ?? 0)) i++
  }
  const scanString = () => {
    i++
    for (;;) {
      const c = next()
      if (c === 0x22) {
        i++
        return
      }
      if (c < 0x20) invalid('in string literal')
      if (c === 0x5c) {
        i++
        const e = next()
        if (e === 0x75) {
          for (let k = 0; k < 4; k++) {
            i++
            if (!isHex(next())) invalid('in \\u hexadecimal character escape')
          }
        } else if (!'"\\/bfnrt'.includes(String.fromCharCode(e))) {
          invalid('in string escape code')
        }
      }
      i++
    }
  }
  // A number may end at the end of input only at top level; elsewhere the container is unfinished.
  const scanNumber = () => {
    if (next() === 0x2d) {
      i++
      if (!isDigit(next())) invalid('in numeric literal')
    }
    if (next() === 0x30) i++
    else digits()
    if (b[i] === 0x2e) {
      i++
      if (!isDigit(next())) invalid('after decimal point in numeric literal')
      digits()
    }
    if (b[i] === 0x65 || b[i] === 0x45) {
      i++
      if (next() === 0x2b || next() === 0x2d) i++
      if (!isDigit(next())) invalid('in exponent of numeric literal')
      digits()
    }
  }
  const scanLiteral = (word: string) => {
    i++
    for (const expected of word.slice(1)) {
      if (next() !== expected.charCodeAt(0)) invalid(`in literal ${word} (expecting '${expected}')`)
      i++
    }
  }
  const scanKey = () => {
    skipSpace()
    if (next() !== 0x22) invalid('looking for beginning of object key string')
    scanString()
    skipSpace()
    if (next() !== 0x3a) invalid('after object key')
    i++
  }

  let arrayMayClose = false
  for (;;) {
    // Expecting a value.
    skipSpace()
    const c = next()
    let complete = true
    if (arrayMayClose && c === 0x5d) {
      stack.pop()
      i++
    } else if (c === 0x7b) {
      push('object')
      skipSpace()
      if (next() === 0x7d) {
        stack.pop()
        i++
      } else {
        scanKey()
        complete = false
      }
    } else if (c === 0x5b) {
      push('array')
      complete = false
    } else if (c === 0x22) scanString()
    else if (c === 0x2d || isDigit(c)) scanNumber()
    else if (c === 0x74) scanLiteral('true')
    else if (c === 0x66) scanLiteral('false')
    else if (c === 0x6e) scanLiteral('null')
    else invalid('looking for beginning of value')
    arrayMayClose = !complete && stack[stack.length - 1] === 'array'
    if (!complete) continue
    // A value is complete: close containers until one expects another element.
    for (;;) {
      // Go's decoder stops right after the first top-level value.
      if (stack.length === 0) return i
      skipSpace()
      const p = next()
      const top = stack[stack.length - 1]
      if (p === 0x2c) {
        i++
        if (top === 'object') scanKey()
        break
      }
      if ((top === 'object' && p === 0x7d) || (top === 'array' && p === 0x5d)) {
        stack.pop()
        i++
        continue
      }
      invalid(top === 'object' ? 'after object key:value pair' : 'after array element')
    }
  }
}

type GoKind = 'string' | '[]string'
type Bound = Record<string, string | string[] | undefined>

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'object') return 'object'
  return typeof value === 'boolean' ? 'bool' : typeof value
}

/** Decodes the first JSON value of `raw` as Go's decoder does, or returns the decoder's error. */
function decodeFirstValue(raw: Uint8Array): { value: unknown } | GoDecodeFailure {
  let start = 0
  while (start < raw.length && isSpace(raw[start] ?? 0)) start++
  if (start === raw.length) return new GoDecodeFailure('EOF')
  try {
    const end = scanFirstValue(raw, start)
    return { value: JSON.parse(new TextDecoder().decode(raw.subarray(start, end))) as unknown }
  } catch (error) {
    if (error instanceof SyntaxFailure) return new GoDecodeFailure(error.message)
    throw error
  }
}

/** Binds a decoded value to a Go struct of string / []string fields, with Go's type errors. */
function bindStruct(value: unknown, structName: string, fields: Record<string, GoKind>): Bound | GoDecodeFailure {
  const bound: Bound = {}
  if (value === null) return bound
  if (typeof value !== 'object' || Array.isArray(value)) {
    return new GoDecodeFailure(`json: cannot unmarshal ${jsonKind(value)} into Go value of type service.${structName}`)
  }
  // Go keeps decoding after a type mismatch and reports the first one.
  let firstError: string | undefined
  const mismatch = (kind: string, field: string, type: string) => {
    firstError ??= `json: cannot unmarshal ${kind} into Go struct field ${structName}.${field} of type ${type}`
  }
  for (const [key, item] of Object.entries(value)) {
    const field = Object.keys(fields).find((name) => name.toLowerCase() === key.toLowerCase())
    if (field === undefined) continue
    if (fields[field] === 'string') {
      if (typeof item === 'string') bound[field] = item
      else if (item !== null) mismatch(jsonKind(item), field, 'string')
    } else if (item === null) {
      bound[field] = undefined
    } else if (Array.isArray(item)) {
      bound[field] = item.map((element: unknown) => {
        if (typeof element === 'string') return element
        if (element !== null) mismatch(jsonKind(element), field, 'string')
        return ''
      })
    } else {
      mismatch(jsonKind(item), field, '[]string')
    }
  }
  return firstError === undefined ? bound : new GoDecodeFailure(firstError)
}

const GRANT_FIELDS: Record<string, GoKind> = {
  resourceId: 'string',
  subjects: '[]string',
  groups: '[]string',
  roles: '[]string',
  permissions: '[]string',
}
const REVOKE_FIELDS: Record<string, GoKind> = { subjects: '[]string', groups: '[]string', resourceIds: '[]string' }

// ------------------------------------------------------------------------------------------------

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
