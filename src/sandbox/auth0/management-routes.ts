// Management and jobs endpoints of the Auth0 Client emulator. All of them spend the
// `managementApi` bucket.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { IMPORT_FILE_MAX_BYTES, MAX_ACTIVE_IMPORT_JOBS } from '../../auth-providers/auth0-contract.js'
import { multipartParts } from './body-parsers.js'
import { resolveClient, type ContextProvider, type EmulatorContext } from './context.js'
import { EmulatorHttpError, managementError, miaError } from './errors.js'
import { resolveConnection } from './options.js'
import { searchUsers, type QueryValue } from './user-search.js'
import { isPlainObject } from '../../lib/plain-object.js'

interface ImportRequest {
  fields: Record<string, unknown>
  users?: { text: string; size: number }
}

/** The import parameters from a multipart body, or from the JSON body the emulator also accepts. */
function readImportRequest(request: FastifyRequest): ImportRequest {
  const parts = multipartParts(request)
  if (parts) {
    const fields: Record<string, unknown> = {}
    for (const part of parts.values()) if (part.name !== 'users') fields[part.name] = part.data.toString('utf8')
    const file = parts.get('users')
    return { fields, ...(file && { users: { text: file.data.toString('utf8'), size: file.data.length } }) }
  }
  if (!isPlainObject(request.body, 'any')) return { fields: {} }
  const { users, ...fields } = request.body
  if (users === undefined) return { fields }
  const text = JSON.stringify(users)
  return { fields, users: { text, size: Buffer.byteLength(text) } }
}

function booleanField(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback
  if (value === true || value === 'true') return true
  if (value === false || value === 'false') return false
  throw miaError(400, `${name} must be true or false`)
}

/** `verify_email: true`: the service mails the address a link to verify it. */
const asksVerification = (body: unknown) => isPlainObject(body, 'any') && body.verify_email === true

function sendVerification(ctx: EmulatorContext, email: string | undefined, connection: string | undefined, clientType: string): void {
  if (email === undefined) return
  ctx.outbox.push({ kind: 'verify-email', email, connection: connection ?? '', clientType, at: new Date(ctx.now()) })
}

const unknownJob = () => managementError(404, 'The job does not exist.', 'inexistent_job')

export function registerManagementRoutes(app: FastifyInstance, context: ContextProvider): void {
  app.get<{ Querystring: Record<string, QueryValue> }>('/users', async (request, reply) => {
    const ctx = context()
    resolveClient(ctx.options(), request, false)
    ctx.limiter.enforce(reply, 'managementApi', 'management')
    return searchUsers(ctx.users.all(), request.query, ctx.options(), ctx.now())
  })

  app.post('/users', async (request, reply) => {
    const ctx = context()
    const client = resolveClient(ctx.options(), request, false)
    ctx.limiter.enforce(reply, 'managementApi', 'management')
    const created = ctx.users.create(request.body)
    if (asksVerification(request.body)) sendVerification(ctx, created.email, created.identities[0]?.connection, client?.name ?? '')
    return reply.code(201).send(created)
  })

  app.get('/users/active', async (request, reply) => {
    const ctx = context()
    resolveClient(ctx.options(), request, false)
    ctx.limiter.enforce(reply, 'managementApi', 'management')
    return ctx.sessions.activeUserIds(ctx.now()).map((userId) => ({ userId }))
  })

  // Fastify decodes path parameters, so `auth0%7Cabc` and `auth0|abc` reach the same user.
  app.patch<{ Params: { userId: string } }>('/users/:userId', async (request, reply) => {
    const ctx = context()
    ctx.limiter.enforce(reply, 'managementApi', 'management')
    const client = resolveClient(ctx.options(), request, false)
    const patched = ctx.users.patch(request.params.userId, request.body)
    if (asksVerification(request.body) && isPlainObject(request.body, 'any') && typeof request.body.email === 'string') {
      sendVerification(ctx, patched.email, patched.identities[0]?.connection, client?.name ?? '')
    }
    return patched
  })

  app.delete<{ Params: { userId: string } }>('/users/:userId', async (request, reply) => {
    const ctx = context()
    resolveClient(ctx.options(), request, false)
    ctx.limiter.enforce(reply, 'managementApi', 'management')
    ctx.users.delete(request.params.userId)
    ctx.sessions.dropUser(request.params.userId)
    return reply.code(204).send()
  })

  app.post('/users/import', async (request, reply) => {
    const ctx = context()
    const options = ctx.options()
    resolveClient(options, request, false)
    ctx.limiter.enforce(reply, 'managementApi', 'management')
    const { fields, users } = readImportRequest(request)
    if (fields.connection_id !== undefined) {
      throw miaError(400, 'connection_id is not allowed: send the connection name in connection')
    }
    const connection = resolveConnection(options, fields.connection)
    if (!users) throw miaError(400, 'the users file is required')
    if (users.size > IMPORT_FILE_MAX_BYTES) {
      throw new EmulatorHttpError(413, {
        statusCode: 413,
        error: 'Request Entity Too Large',
        message: `Payload content length greater than maximum allowed: ${IMPORT_FILE_MAX_BYTES}`,
      })
    }
    if (!ctx.jobs.canStart()) {
      throw new EmulatorHttpError(429, {
        statusCode: 429,
        error: 'Too Many Requests',
        message: `There are ${MAX_ACTIVE_IMPORT_JOBS} active import users jobs, please wait until some of them are finished and try again`,
      })
    }
    const externalId = fields.external_id
    if (externalId !== undefined && typeof externalId !== 'string') throw miaError(400, 'external_id must be a string')
    const job = ctx.jobs.create({
      connection,
      connectionId: options.connections[connection]?.id ?? '',
      upsert: booleanField(fields.upsert, 'upsert', false),
      ...(externalId !== undefined && { externalId }),
      sendCompletionEmail: booleanField(fields.send_completion_email, 'send_completion_email', true),
      fileText: users.text,
    })
    return reply.code(201).send(ctx.jobs.view(job))
  })

  app.get<{ Params: { jobId: string } }>('/users/import/status/:jobId', async (request, reply) => {
    const ctx = context()
    resolveClient(ctx.options(), request, false)
    ctx.limiter.enforce(reply, 'managementApi', 'management')
    const job = ctx.jobs.get(request.params.jobId)
    if (!job) throw unknownJob()
    return ctx.jobs.view(job)
  })

  app.get<{ Params: { jobId: string } }>('/users/import/status/:jobId/errors', async (request, reply) => {
    const ctx = context()
    resolveClient(ctx.options(), request, false)
    ctx.limiter.enforce(reply, 'managementApi', 'management')
    const job = ctx.jobs.get(request.params.jobId)
    if (!job) throw unknownJob()
    // Auth0 answers a job that has not finished with the job itself.
    if (job.status === 'pending' || job.status === 'processing') return ctx.jobs.view(job)
    if (job.errors.length === 0) return reply.code(204).send()
    return structuredClone(job.errors)
  })
}
