// Authentication routes: login, refresh, userinfo and the change-password email.
import type { FastifyReply } from 'fastify'
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts'
import type { LogoutAnswer, SessionAnswer } from '../auth-providers/provider.js'
import { operation } from '../errors/index.js'
import { getUserinfo } from '../services/userinfo.js'
import { sendChangePasswordEmail } from '../services/passwords.js'
import { requireCredentials } from '../services/self-service/caller.js'
import { SESSION_SECURITY, emptyResponse, errorResponses } from './schemas.js'

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

function relayCookies(reply: FastifyReply, answer: LogoutAnswer) {
  if (answer.setCookie.length > 0) reply.header('set-cookie', answer.setCookie)
}

const logoutQuery = {
  type: 'object',
  properties: { redirect: { type: 'string', minLength: 1, pattern: '^/', description: 'Path of the application the browser returns to' } },
  additionalProperties: false,
} as const

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
    '/logout',
    {
      config: operation('logging out', [401, 429]),
      schema: {
        tags,
        security: SESSION_SECURITY,
        operationId: 'logout',
        summary: 'End the session of the credentials sent; relays the set-cookie that clears sid',
        response: { 204: emptyResponse, ...errorResponses(401, 429, 500) },
      },
    },
    async (request, reply) => {
      requireCredentials(request.callContext)
      relayCookies(reply, await auth.logout(undefined, request.callContext))
      return reply.code(204).send(null)
    },
  )

  app.get(
    '/logout',
    {
      config: operation('logging out', [401, 429]),
      schema: {
        tags,
        security: SESSION_SECURITY,
        operationId: 'logoutBrowser',
        summary: "For browsers: end the session and follow the auth service's redirect",
        querystring: logoutQuery,
        response: {
          302: { type: 'null', description: 'Redirect to the auth service, which returns the browser to `redirect`' },
          204: emptyResponse,
          ...errorResponses(400, 401, 429, 500),
        },
      },
    },
    async (request, reply) => {
      requireCredentials(request.callContext)
      const answer = await auth.logout(request.query.redirect, request.callContext)
      relayCookies(reply, answer)
      if (answer.location === undefined) return reply.code(204).send(null)
      return reply.redirect(answer.location, 302)
    },
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
