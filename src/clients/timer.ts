// Timer Service client: schedule a REST callback, abort it.
import type { CallContext, PeerClient } from './http.js'
import type { HeaderMap } from './headers.js'
import { traceHeaders } from '../observability/tracing.js'

export interface RestCallback {
  method: 'post' | 'put' | 'patch' | 'get' | 'delete'
  /** Where the Timer Service calls back, e.g. `http://user-manager-service`. */
  target: URL
  path: string
  headers: HeaderMap
  payload: Record<string, unknown>
}

export class TimerClient {
  constructor(
    readonly http: PeerClient,
    private readonly applicantService: string,
  ) {}

  /**
   * Schedules `callback` at `expiresAt` (clamped to now when in the past); returns the expiration
   * id. The callback also replays the request's trace headers, so that it joins the caller's trace.
   */
  async schedule(expiresAt: Date, callback: RestCallback, ctx: CallContext, now = new Date()): Promise<string> {
    const protocol = callback.target.protocol.replace(/:$/, '')
    const outputMode: Record<string, unknown> = {
      type: 'rest',
      method: callback.method,
      protocol,
      hostname: callback.target.hostname,
      path: `${callback.target.pathname.replace(/\/+$/, '')}${callback.path}`,
      headers: { ...callback.headers, ...traceHeaders(ctx) },
    }
    if (callback.target.port !== '') outputMode.port = Number(callback.target.port)
    const response = await this.http.call<{ expirationId: string }>(
      {
        method: 'POST',
        path: '/schedule',
        route: '/schedule',
        json: {
          payload: callback.payload,
          startDate: now.toISOString(),
          expirationIntervalMs: Math.max(0, expiresAt.getTime() - now.getTime()),
          applicantService: this.applicantService,
          outputMode,
        },
      },
      ctx,
    )
    return response.body.expirationId
  }

  /** `POST /abort`; a 404 means there was nothing left to abort. */
  async abort(expirationId: string, ctx: CallContext): Promise<void> {
    await this.http.call({ method: 'POST', path: '/abort', route: '/abort', json: { expirationId }, acceptStatus: [404] }, ctx)
  }

  async checkHealth(ctx: CallContext): Promise<void> {
    await this.http.call({ method: 'GET', path: '/-/healthz', route: '/-/healthz' }, ctx)
  }
}
