// A loopback TCP proxy in front of a shared server, so that a test can make a store lose its server
// and get it back without stopping the server other test files use.
import { createServer, connect, type Socket } from 'node:net'

export interface TcpProxy {
  /** The loopback port to use instead of the target's. */
  readonly port: number
  /** How many client connections are open through the proxy. */
  connections(): number
  /** Resets every open connection and every new one until `restore()`, like a server that is down. */
  cut(): void
  /** Forwards new connections to the target again. */
  restore(): void
  close(): Promise<void>
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  // Both ends of every forwarded connection, and the client ends alone.
  const sockets = new Set<Socket>()
  const clients = new Set<Socket>()
  let down = false

  function track(socket: Socket, group: Set<Socket>): void {
    group.add(socket)
    socket.on('close', () => group.delete(socket))
  }

  // While cut, connections are accepted then reset rather than refused: the port stays this
  // proxy's, so no other process can take it before `restore()`.
  const server = createServer((client) => {
    if (down) {
      client.resetAndDestroy()
      return
    }
    const upstream = connect({ host: target.host, port: target.port })
    track(client, sockets)
    track(client, clients)
    track(upstream, sockets)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.resetAndDestroy())
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the TCP proxy has no port')

  function cut(): void {
    down = true
    for (const socket of sockets) socket.resetAndDestroy()
  }

  return {
    port: address.port,
    connections: () => clients.size,
    cut,
    restore() {
      down = false
    },
    async close() {
      cut()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
