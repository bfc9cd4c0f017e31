// Self-service routes: the logged user (identified by the credentials the auth service verifies)
// reads and edits itself, changes its own password and answers its group's consents.
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts'
import { operation } from '../errors/index.js'
import { answerConsent, changeOwnPassword, getMe, listConsents, patchMe } from '../services/self-service/me.js'
import { consentAnswerBody, consentParams, ownPasswordChangeBody, selfPatchBody } from '../schemas/self-service.js'
import { SESSION_SECURITY, emptyResponse, errorResponses } from './schemas.js'

const tags = ['Self-service']
const security = SESSION_SECURITY
const userDocument = { type: 'object', additionalProperties: true } as const

const consentList = {
  type: 'array',
  items: {
    type: 'object',
    required: ['key', 'version', 'required', 'granted', 'at'],
    properties: {
      key: { type: 'string' },
      version: { oneOf: [{ type: 'number' }, { type: 'string' }] },
      required: { type: 'boolean' },
      granted: { type: 'boolean', nullable: true, description: 'null: never answered, or answered for an earlier version' },
      at: { type: 'string', nullable: true, format: 'date-time' },
    },
    additionalProperties: false,
  },
} as const

export const meRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  const deps = app.users

  app.get('/users/me', {
    config: operation('retrieving logged', [429]),
    schema: {
      tags,
      security,
      operationId: 'getMe',
      summary: "The logged user's own CRUD document (same body as GET /users/:id, plus email_verified)",
      response: { 200: userDocument, ...errorResponses(401, 429, 500) },
    },
  }, (request) => getMe(deps, request.callContext))

  app.patch('/users/me', {
    config: operation('updating logged', [400, 409, 429]),
    schema: {
      tags,
      security,
      operationId: 'updateMe',
      summary: "Edit one's own user: $set and $unset on the fields the group lets its users edit",
      body: selfPatchBody,
      response: { 200: userDocument, ...errorResponses(400, 401, 403, 409, 429, 500) },
    },
  }, (request) => patchMe(deps, request.body, request.callContext))

  app.post('/users/me/change-password', {
    config: operation('changing the password of logged', [429]),
    schema: {
      tags,
      security,
      operationId: 'changeMyPassword',
      summary: "Change one's own password, proving the current one",
      body: ownPasswordChangeBody,
      response: { 204: emptyResponse, ...errorResponses(400, 401, 403, 429, 500) },
    },
  }, async (request, reply) => {
    await changeOwnPassword(deps, request.body, request.callContext)
    return reply.code(204).send(null)
  })

  app.get('/users/me/consents', {
    config: operation('retrieving the consents of logged', [429]),
    schema: {
      tags,
      security,
      operationId: 'listMyConsents',
      summary: "The consents the user's group asks for, with the user's answers",
      response: { 200: consentList, ...errorResponses(401, 429, 500) },
    },
  }, (request) => listConsents(deps, request.callContext))

  app.put('/users/me/consents/:key', {
    config: operation('storing a consent of logged', [429]),
    schema: {
      tags,
      security,
      operationId: 'answerMyConsent',
      summary: 'Grant or refuse one consent of the group, for its current version',
      params: consentParams,
      body: consentAnswerBody,
      response: { 200: consentList, ...errorResponses(400, 401, 404, 429, 500) },
    },
  }, (request) => answerConsent(deps, request.params.key, request.body.granted, request.callContext))
}
