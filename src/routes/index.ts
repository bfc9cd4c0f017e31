// The API, registered under SERVICE_PREFIX: authentication, self-service, user management, the CSV
// import and the jobs. The status routes and the documentation stay at the root.
import type { FastifyInstance } from 'fastify'
import { authRoutes } from './auth.js'
import { importRoutes } from './import.js'
import { jobRoutes } from './jobs.js'
import { meRoutes } from './me.js'
import { registrationRoutes } from './registration.js'
import { userRoutes } from './users.js'

export async function apiRoutes(app: FastifyInstance): Promise<void> {
  await app.register(authRoutes)
  await app.register(meRoutes)
  await app.register(registrationRoutes)
  await app.register(userRoutes)
  await app.register(jobRoutes)
  await app.register(importRoutes)
}
