// Every failure answered with Fastify's error body and a stable code (src/errors/), 5xx logged
// with their error, unknown routes answered like Fastify's own 404, and the error body declared
// once for the routes' response schemas.
import fp from 'fastify-plugin'
import type { FastifyError } from 'fastify'
import { errorReply, routeNotFound } from '../errors/index.js'
import { errorBodySchema } from '../routes/schemas.js'

export default fp(
  async (app) => {
    app.setErrorHandler((thrown: FastifyError, request, reply) => {
      const { body, error } = errorReply(thrown, request)
      if (body.statusCode >= 500) request.log.error({ err: error }, 'request failed')
      reply.code(body.statusCode).send(body)
    })
    app.setNotFoundHandler((request, reply) => {
      reply.code(404).send(routeNotFound(request))
    })
    app.addSchema(errorBodySchema)
  },
  { name: 'error-handler' },
)
