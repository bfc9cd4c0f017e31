// Child process: the baseline of the proxy bar, a bare @fastify/reply-from proxy (defaults, logger
// off) streaming the CRUD emulator's answers through on the routes ums proxies.
import Fastify from 'fastify'
import replyFrom from '@fastify/reply-from'
import { childOptions, serve } from './ipc.js'

export interface ReplyFromOptions {
  /** Upstream base URL (the CRUD emulator). */
  upstream: string
  /** Paths proxied unchanged (query string included), e.g. `/users/`, `/users/count`. */
  routes: string[]
}

export interface ReplyFromInfo {
  url: string
}

const options = childOptions<ReplyFromOptions>()

await serve<ReplyFromInfo>(async () => {
  const app = Fastify({ logger: false })
  await app.register(replyFrom, { base: options.upstream })
  for (const route of options.routes) app.get(route, (request, reply) => reply.from(request.url))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  return {
    info: { url: `http://127.0.0.1:${address.port}` },
    close: () => app.close(),
  }
})
