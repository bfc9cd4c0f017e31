// The OpenAPI document (/documentation/json and /yaml) and Swagger UI (/documentation), unless
// EXPOSE_DOCUMENTATION=false; never under SERVICE_PREFIX. The routes registered after it are listed.
import fp from 'fastify-plugin'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import { PACKAGE } from '../config/package.js'

export default fp(
  async (app) => {
    if (!app.config.exposeDocumentation) return
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.0.3',
        info: { title: PACKAGE.name, description: PACKAGE.description, version: PACKAGE.version },
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', description: 'The access token of a token-mode login' },
            sessionCookie: { type: 'apiKey', in: 'cookie', name: 'sid', description: 'The session cookie of a website-mode login' },
          },
        },
      },
      // Shared schemas keep their own name in the document (`ErrorBody`, not `def-0`).
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, index) => (typeof json.$id === 'string' ? json.$id : `def-${index}`) },
    })
    await app.register(fastifySwaggerUi, { routePrefix: '/documentation' })
  },
  { name: 'documentation', dependencies: ['config'] },
)
