// The self-service routes of the logged user. They identify the caller by the session it sends:
// give the client `headers: { authorization: 'Bearer <accessToken>' }` (or the `sid` cookie with
// `client-type: website`). A new one is one method here once `npm run sdk:generate` has typed it.
import { settle, type Api } from './call.js'
import type { Consents, PasswordChange, SelfPatch, User } from './types.js'

export function meGroup(api: Api) {
  return {
    /** GET /users/me: the user's own CRUD document. */
    get: (): Promise<User> => settle(api.GET('/users/me')),
    /** PATCH /users/me: `$set`/`$unset` of the fields the group lets its users edit; the updated user. */
    patch: (operators: SelfPatch): Promise<User> => settle(api.PATCH('/users/me', { body: operators })),
    /** POST /users/me/change-password, proving the current password. */
    changePassword: async (change: PasswordChange): Promise<void> => {
      await settle(api.POST('/users/me/change-password', { body: change }))
    },
    /** GET /users/me/consents */
    consents: (): Promise<Consents> => settle(api.GET('/users/me/consents')),
    /** PUT /users/me/consents/{key}: grant or refuse one consent; the consents after it. */
    answerConsent: (key: string, granted: boolean): Promise<Consents> => settle(api.PUT('/users/me/consents/{key}', { params: { path: { key } }, body: { granted } })),
  }
}
