// What the user operations run on, bound once: the configuration, the peers, the group schemas and
// one repository of the users collection. Routes and jobs take it from here.
import fp from 'fastify-plugin'
import { GroupSchemaCache } from '../services/group-schemas.js'
import type { UsersDeps } from '../services/users/context.js'
import { UsersRepository } from '../services/users/repository.js'

declare module 'fastify' {
  interface FastifyInstance {
    users: UsersDeps
  }
}

export default fp(
  async (app) => {
    const { crud, auth, rond, timer } = app.peers
    app.decorate('users', {
      config: app.config,
      crud,
      auth,
      rond,
      timer,
      groups: new GroupSchemaCache(crud.umsConfig, app.config.groupConfigCacheTtlMs),
      users: new UsersRepository(crud.users),
    })
  },
  { name: 'users', dependencies: ['config', 'peers'] },
)
