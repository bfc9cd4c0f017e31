// Authentication routes: login, refresh, userinfo and the change-password email.
import type { FastifyReply } from 'fastify'
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts'
import type { SessionAnswer } from '../auth-providers/provider.js'
import { operation } from '../errors/index.js'
import { getUserinfo } from '../services/userinfo.js'
import { sendChangePasswordEmail } from '../services/passwords.js'
import { emptyResponse, errorResponses } from './schemas.js'

const tokenBody = {
  type: 'object',
  description: 'Token mode; in website mode the body is empty and the session comes as set-cookie',
  properties: {
    accessToken: { type: 'string' },
    refreshToken: { type: 'string' },
    idToken: { type: 'string' },
    expireAt: { type: 'string' },
  },
  additionalProperties: true,
} as const

function relaySession(reply: FastifyReply, answer: SessionAnswer) {
  if (answer.setCookie.length > 0) reply.header('set-cookie', answer.setCookie)
  reply.code(answer.status)
  return answer.body === undefined || answer.body === '' ? reply.send() : reply.send(answer.body)
}

export const authRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  const { auth, crud } = app.peers
  const tags = ['Authentication']

  app.post(
    '/oauth/token',
    {
      config: operation('logging in', [400, 401, 403, 429]),
      schema: {
        tags,
        operationId: 'login',
        summary: 'Log in with username (or email) and password',
        body: {
          type: 'object',
          required: ['username', 'password'],
          properties: { username: { type: 'string', minLength: 1 }, password: { type: 'string', minLength: 1 } },
          additionalProperties: false,
        } as const,
        response: { 200: tokenBody, ...errorResponses(400, 401, 403, 429, 500) },
      },
    },
    async (request, reply) => relaySession(reply, await auth.login(request.body, request.callContext)),
  )

  app.post(
    '/refreshtoken',
    {
      config: operation('refreshing the token of', [400, 401, 403, 429]),
      schema: {
        tags,
        operationId: 'refreshToken',
        summary: 'Exchange a refresh token (and the expired access token in authorization) for new tokens',
        body: {
          type: 'object',
          required: ['refreshToken'],
          properties: { refreshToken: { type: 'string', minLength: 1 } },
          additionalProperties: false,
        } as const,
        response: { 200: tokenBody, ...errorResponses(400, 401, 403, 429, 500) },
      },
    },
    async (request, reply) => relaySession(reply, await auth.refresh(request.body.refreshToken, request.callContext)),
  )

  app.get(
    '/userinfo',
    {
      config: operation('retrieving logged', [401, 403, 429]),
      schema: {
        tags,
        operationId: 'getUserinfo',
        summary: 'The logged user: auth profile plus CRUD properties (and permissions when configured)',
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(401, 403, 429, 500) },
      },
    },
    async (request) => getUserinfo({ config: app.config, crud, auth }, request.callContext),
  )

  app.post(
    '/users/change-password',
    {
      config: operation('sending the change-password email to', [400, 404, 429]),
      schema: {
        tags,
        operationId: 'sendChangePasswordEmail',
        summary: 'Send the change-password email to a user of the auth service',
        body: {
          type: 'object',
          required: ['authUserId'],
          properties: { authUserId: { type: 'string', minLength: 1 } },
          additionalProperties: false,
        } as const,
        response: { 204: emptyResponse, ...errorResponses(400, 404, 429, 500) },
      },
    },
    async (request, reply) => {
      await sendChangePasswordEmail({ crud, auth }, request.body.authUserId, request.callContext)
      return reply.code(204).send(null)
    },
  )
}
