// POST /users/self-register: sign-ups, without credentials, rate limited per client address.
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts'
import { operation } from '../errors/index.js'
import { countSelfRegistration } from '../observability/metrics.js'
import { REGISTRATION_ACCEPTED, selfRegister } from '../services/self-service/registration.js'
import { selfRegistrationBody } from '../schemas/self-service.js'
import { errorResponses } from './schemas.js'

const SIGN_UP_WINDOW_MS = 60_000

export const registrationRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  const deps = app.users
  const { selfRegistrationRateLimitPerMinute, selfRegistrationMinDurationMs } = app.config

  app.post('/users/self-register', {
    config: {
      ...operation('registering', [400, 409, 429]),
      rateLimit: {
        max: selfRegistrationRateLimitPerMinute,
        timeWindow: SIGN_UP_WINDOW_MS,
        onExceeded: () => countSelfRegistration('rate_limited'),
        // Only the refusal carries the limit's headers: every accepted sign-up, new account or
        // not, gets byte for byte the same answer.
        addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
      },
    },
    schema: {
      tags: ['Self-service'],
      operationId: 'selfRegister',
      summary: "Open one's own account in a group that accepts sign-ups; the same 202 whether or not the account already existed",
      body: selfRegistrationBody,
      response: {
        202: {
          type: 'object',
          required: ['message'],
          properties: { message: { type: 'string', enum: [REGISTRATION_ACCEPTED.message] } },
          additionalProperties: false,
        },
        ...errorResponses(400, 403, 429, 500),
      },
    },
  }, async (request, reply) => reply.code(202).send(await selfRegister(deps, request.body, request.callContext, selfRegistrationMinDurationMs)))
}
