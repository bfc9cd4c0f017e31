// One client per peer (the CRUD Service, the auth service through its AUTH_MODULE, Rönd, the Timer
// Service), each on a keep-alive pool of its own, closed with the app. Tests may hand in their own.
import fp from 'fastify-plugin'
import type { Config } from '../config/index.js'
import { PeerClient } from '../clients/http.js'
import { CrudClient } from '../clients/crud.js'
import { crudRefusal } from '../clients/crud-refusals.js'
import { loginRefusal } from '../clients/refusal.js'
import { RondClient } from '../clients/rond.js'
import { TimerClient } from '../clients/timer.js'
import { authProviderModule, type AuthProvider } from '../auth-providers/index.js'
import { PACKAGE } from '../config/package.js'

export interface Peers {
  crud: CrudClient
  auth: AuthProvider
  rond: RondClient
  timer: TimerClient | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    peers: Peers
  }
}

function createPeers(config: Config): { peers: Peers; close: () => Promise<void> } {
  const options = { timeoutMs: config.upstreamTimeoutMs, traced: config.enableTracing }
  const authModule = authProviderModule(config.authModule)
  const crudHttp = new PeerClient('CRUD', config.services.crud, { ...options, explainRefusal: crudRefusal })
  // A refused login reads the same whatever the auth module: the OAuth answer of the token endpoint says why.
  const authHttp = new PeerClient('AUTH', config.services.auth, { ...options, explainRefusal: (error) => authModule.explainRefusal(error) ?? loginRefusal(error) })
  const rondHttp = new PeerClient('ROND', config.services.rond, options)
  const timerHttp = config.services.timer ? new PeerClient('TIMER', config.services.timer, options) : undefined
  return {
    peers: {
      crud: new CrudClient(crudHttp, config.endpoints),
      auth: authModule.create({ config, http: authHttp }),
      rond: new RondClient(rondHttp),
      timer: timerHttp ? new TimerClient(timerHttp, PACKAGE.name) : undefined,
    },
    close: async () => {
      await Promise.all([crudHttp, authHttp, rondHttp, timerHttp].map((http) => http?.close()))
    },
  }
}

export default fp<{ peers?: Peers | undefined }>(
  async (app, options) => {
    if (options.peers) {
      app.decorate('peers', options.peers)
      return
    }
    const { peers, close } = createPeers(app.config)
    app.decorate('peers', peers)
    app.addHook('onClose', close)
  },
  { name: 'peers', dependencies: ['config'] },
)
