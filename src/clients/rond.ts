// Rönd client: grant and revoke role bindings for one subject.
import type { CallContext, PeerClient } from './http.js'

export class RondClient {
  constructor(readonly http: PeerClient) {}

  /** `POST /grant/bindings` binding `subject` to `roles`; returns the binding id. */
  async grantRoles(subject: string, roles: string[], ctx: CallContext): Promise<string> {
    const response = await this.http.call<{ bindingId: string }>(
      { method: 'POST', path: '/grant/bindings', route: '/grant/bindings', json: { subjects: [subject], roles } },
      ctx,
    )
    return response.body.bindingId
  }

  /** `POST /revoke/bindings` removing `subject` from every binding that names it. */
  async revokeSubject(subject: string, ctx: CallContext): Promise<{ deletedBindings: number; modifiedBindings: number }> {
    const response = await this.http.call<{ deletedBindings: number; modifiedBindings: number }>(
      { method: 'POST', path: '/revoke/bindings', route: '/revoke/bindings', json: { subjects: [subject] } },
      ctx,
    )
    return response.body
  }

  async checkHealth(ctx: CallContext): Promise<void> {
    await this.http.call({ method: 'GET', path: '/-/rbac-healthz', route: '/-/rbac-healthz' }, ctx)
  }
}
