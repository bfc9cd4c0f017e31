// Connections end with the answer when keeping them would lose a request: from the shutdown signal
// on, and when an answer goes out before its request's body has fully arrived.
import type { IncomingMessage } from 'node:http'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** Set on SIGTERM/SIGINT (src/lifecycle/shutdown.ts): from then on every answer ends its connection. */
    draining: boolean
  }
}

/**
 * Whether the request announced a body that has not fully arrived. A request without a body may
 * be answered before Node's parser marks it complete (when every hook before the answer runs
 * synchronously): that one leaves nothing unread on the connection.
 */
function bodyUnread(raw: IncomingMessage): boolean {
  if (raw.complete) return false
  const length = raw.headers['content-length']
  return raw.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

export default fp(
  async (app) => {
    app.decorate('draining', false)
    // From the shutdown signal on, answers end their keep-alive connection: close() drops the
    // connections idle at its moment, and a request a client sends on one just then would be reset
    // unread; told to close, clients open new connections meanwhile, which close() finds busy or
    // not at all. After close() has begun it also keeps a connection finishing an in-flight request
    // from holding the shutdown open until its keep-alive timeout.
    // An answer sent before the request's body has fully arrived (a CSV upload refused at its first
    // part) ends the connection too: the rest of the body would stay unread on it, stalling the
    // client's upload and whatever request it sends next on that connection.
    app.addHook('onSend', (request, reply, payload, done) => {
      if (app.draining || !app.server.listening || bodyUnread(request.raw)) reply.header('connection', 'close')
      done(null, payload)
    })
  },
  { name: 'draining' },
)
