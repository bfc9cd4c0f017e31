// User-management routes: thin handlers with schemas calling src/services/users/.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts'
import type { FromSchema } from 'json-schema-to-ts'
import { CRUD_QUERY_ENCODING_HEADERS } from '../clients/headers.js'
import { badRequest, operation } from '../errors/index.js'
import { createUser, createUserWithId, registerUser } from '../services/users/create.js'
import { patchUser } from '../services/users/update.js'
import { changeUsersState, deleteUser, softDeleteUser } from '../services/users/remove.js'
import { forcePasswordReset } from '../services/users/force-password-reset.js'
import { readUsers, type UsersRead } from '../services/users/read.js'
import { userPatchBody } from '../schemas/user-patch.js'
import { createUserQuery, newUserBody, newUserWithIdBody, registerUserBody, registerUserQuery, stateChangesBody } from '../schemas/users.js'
import { emptyResponse, errorResponses } from './schemas.js'

const tags = ['User Management']
const userDocument = { type: 'object', additionalProperties: true } as const
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } } as const
const createdId = { type: 'object', required: ['_id'], properties: { _id: { type: 'string' } } } as const
const LIST: UsersRead = { kind: 'list' }
const COUNT: UsersRead = { kind: 'count' }

/** CRUD query parameters, documented and passed through unchanged. */
const crudReadQuery = {
  type: 'object',
  properties: {
    _q: { type: 'string', description: 'MongoDB filter (a JSON object; base64-encoded when json-query-params-encoding is base64)' },
    _st: { type: 'string', description: 'Comma list of states (default PUBLIC)' },
    _p: { type: 'string', description: 'Comma list of fields to return' },
    _l: { type: 'integer', minimum: 1 },
    _sk: { type: 'integer', minimum: 0 },
    _s: { type: 'array', items: { type: 'string' }, description: 'Sort fields, `-` for descending; may repeat' },
  },
  additionalProperties: true,
} as const

type CrudReadRequest = FastifyRequest & { query: FromSchema<typeof crudReadQuery> }

function rawQuery(request: FastifyRequest): string {
  const index = request.url.indexOf('?')
  return index === -1 ? '' : request.url.slice(index + 1)
}

/**
 * The CRUD parses `_q` without error handling and answers a malformed one with a 500: it is
 * the caller's mistake, so it gets a 400 naming the parameter before anything is sent.
 */
function assertJsonQuery(request: CrudReadRequest): void {
  const query = request.query._q
  if (query === undefined) return
  const base64 = CRUD_QUERY_ENCODING_HEADERS.some((name) => request.headers[name] === 'base64')
  let filter: unknown
  try {
    filter = JSON.parse(base64 ? Buffer.from(query, 'base64').toString('utf8') : query)
  } catch {
    filter = undefined
  }
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
    throw badRequest(base64 ? 'querystring._q must be a base64-encoded JSON object (json-query-params-encoding: base64)' : 'querystring._q must be a JSON object', 'UMS_INVALID_QUERY')
  }
}

export const userRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  const deps = app.users
  // Not async, and returning nothing: the answer is sent once the CRUD's arrives, failures as an
  // async handler's would be. An async handler returns the reply, a thenable Fastify then waits on
  // through promises and a listener on the response of its own: on every proxied read.
  const proxy = (request: CrudReadRequest, reply: FastifyReply, read: UsersRead): void => {
    assertJsonQuery(request)
    readUsers(deps, read, rawQuery(request), request.callContext).then(
      (answer) => {
        try {
          reply.code(answer.status).type(answer.contentType).send(answer.body)
        } catch (error) {
          reply.send(error)
        }
      },
      (error: unknown) => {
        reply.send(error)
      },
    )
  }

  // Both spellings answer; the document lists `/users/` only, so each operation appears once.
  for (const [url, documented] of [['/users/', true], ['/users', false]] as const) {
    app.get(url, {
      config: operation('retrieving'),
      schema: {
        ...(documented ? { operationId: 'listUsers' } : { hide: true }),
        tags,
        summary: 'List users (proxy of the CRUD list)',
        querystring: crudReadQuery,
        response: { 200: { type: 'array', items: userDocument }, ...errorResponses(400, 500) },
      },
    }, (request, reply) => proxy(request, reply, LIST))

    app.post(url, {
      config: operation('creating', [400, 409]),
      schema: {
        ...(documented ? { operationId: 'createUser' } : { hide: true }),
        tags,
        summary: 'Create a user in the CRUD and in the auth service',
        body: newUserBody,
        querystring: createUserQuery,
        response: { 200: createdId, ...errorResponses(400, 409, 500) },
      },
    }, (request) => createUser(deps, request.body, request.query, request.callContext))
  }

  app.get('/users/count', {
    config: operation('retrieving'),
    schema: { tags, operationId: 'countUsers', summary: 'Count users (proxy of the CRUD count)', querystring: crudReadQuery, response: { 200: { type: 'integer' }, ...errorResponses(400, 500) } },
  }, (request, reply) => proxy(request, reply, COUNT))

  app.get('/users/:id', {
    config: operation('retrieving'),
    schema: { tags, operationId: 'getUser', summary: 'One user by CRUD _id (proxy of the CRUD read)', params: idParams, querystring: crudReadQuery, response: { 200: userDocument, ...errorResponses(400, 404, 500) } },
  }, (request, reply) => proxy(request, reply, { kind: 'one', id: request.params.id }))

  app.post('/users/with-id', {
    config: operation('creating', [400, 409]),
    schema: {
      tags,
      operationId: 'createUserWithId',
      summary: 'Create the CRUD user of an existing auth user',
      body: newUserWithIdBody,
      response: { 200: createdId, ...errorResponses(400, 409, 500) },
    },
  }, (request) => createUserWithId(deps, request.body, request.callContext))

  app.post('/users/register', {
    config: operation('registering', [400, 409]),
    schema: {
      tags,
      operationId: 'registerUser',
      summary: 'Create the auth user of a CRUD user created with postponeAuthUserCreation',
      body: registerUserBody,
      querystring: registerUserQuery,
      response: { 204: emptyResponse, ...errorResponses(400, 404, 409, 500) },
    },
  }, async (request, reply) => {
    await registerUser(deps, request.body, request.query, request.callContext)
    return reply.code(204).send(null)
  })

  app.patch('/users/:id', {
    config: operation('updating', [400, 409]),
    schema: {
      tags,
      operationId: 'updateUser',
      summary: 'Update a user with CRUD update operators ($set, $unset, $push, ...)',
      params: idParams,
      body: userPatchBody,
      response: { 200: userDocument, ...errorResponses(400, 404, 409, 500) },
    },
  }, (request) => patchUser(deps, request.params.id, request.body, request.callContext))

  app.delete('/users/:id', {
    config: operation('deleting', [400]),
    schema: { tags, operationId: 'deleteUser', summary: 'Delete a user from the CRUD and the auth service', params: idParams, response: { 204: emptyResponse, ...errorResponses(400, 404, 500) } },
  }, async (request, reply) => {
    await deleteUser(deps, request.params.id, request.callContext)
    return reply.code(204).send(null)
  })

  app.post('/users/state', {
    config: operation('changing state of', [400]),
    schema: {
      tags,
      operationId: 'changeUsersState',
      summary: 'Change the state of the users matching each filter',
      body: stateChangesBody,
      response: { 200: { type: 'integer', description: 'Number of users whose state changed' }, ...errorResponses(400, 500) },
    },
  }, (request) => changeUsersState(deps, request.body, request.callContext))

  app.post('/users/:id/force-password-reset', {
    config: operation('forcing a password reset of', [400, 429]),
    schema: {
      tags,
      operationId: 'forcePasswordReset',
      summary: 'Replace the password with a random one at once, then send the change-password email',
      params: idParams,
      response: { 204: emptyResponse, ...errorResponses(400, 404, 409, 429, 500) },
    },
  }, async (request, reply) => {
    await forcePasswordReset(deps, request.params.id, request.callContext)
    return reply.code(204).send(null)
  })

  app.post('/users/:id/soft-delete', {
    config: operation('soft deleting', [400]),
    schema: { tags, operationId: 'softDeleteUser', summary: 'Move a user to DELETED and delete or block its auth user (resumable)', params: idParams, response: { 204: emptyResponse, ...errorResponses(400, 404, 500) } },
  }, async (request, reply) => {
    await softDeleteUser(deps, request.params.id, request.callContext)
    return reply.code(204).send(null)
  })
}
