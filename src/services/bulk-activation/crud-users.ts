// The CRUD side of a bulk activation: writing each activated user's `authUserId` with
// `PATCH /bulk`, checking what was really written.
import type { CallContext } from '../../clients/http.js'
import { ALL_STATES, type CrudClient } from '../../clients/crud.js'
import { UpstreamError } from '../../errors/index.js'
import { messageOf } from '../../lib/message-of.js'
import { USERS_PAGE_SIZE, type UsersRepository } from '../users/repository.js'

/** Items per `PATCH /bulk` call: the CRUD Service's page maximum. */
const CRUD_PAGE = USERS_PAGE_SIZE

export interface Link {
  crudId: string
  authUserId: string
}

export interface NotLinked extends Link {
  reason: string
  /**
   * True when the CRUD answered the write and the read-back shows the id is not there. False when
   * a write went unanswered (timeout, reset): it may still land later, so nothing is undone.
   */
  certain: boolean
}

/** Tries of a `PATCH /bulk` that gets no answer (timeout, refused or reset connection). */
export const LINK_WRITE_ATTEMPTS = 3

/**
 * Sets `authUserId` on each user that still has none, 200 per `PATCH /bulk`. Each item is guarded
 * by `authUserId $exists: false` and writes the same value every time, so a write that got no
 * answer is simply sent again. When the CRUD answers with an error or modifies fewer documents
 * than the chunk carried, the chunk is read back and only the users that do not hold their new id
 * are returned as not linked, with the reason. Never throws.
 */
export async function writeLinks(crud: CrudClient, repository: UsersRepository, links: Link[], ctx: CallContext): Promise<NotLinked[]> {
  const notLinked: NotLinked[] = []
  const withoutAuthUser = JSON.stringify({ authUserId: { $exists: false } })
  for (let start = 0; start < links.length; start += CRUD_PAGE) {
    const chunk = links.slice(start, start + CRUD_PAGE)
    const items = chunk.map((link) => ({
      filter: { _id: link.crudId, _st: ALL_STATES, _q: withoutAuthUser },
      update: { $set: { authUserId: link.authUserId } },
    }))
    let reason = 'the user changed meanwhile (it already has an authUserId or no longer exists)'
    let answered = false
    let unanswered = false
    let allModified = false
    for (let attempt = 1; attempt <= LINK_WRITE_ATTEMPTS && !answered; attempt += 1) {
      try {
        const modified = await crud.users.patchBulk(items, ctx)
        answered = true
        allModified = modified === chunk.length
      } catch (error) {
        reason = messageOf(error, 'unknown error')
        answered = error instanceof UpstreamError && error.status !== undefined
        if (!answered) unanswered = true
        ctx.log.warn({ err: error, attempt }, 'bulk activation: CRUD PATCH /bulk failed')
      }
    }
    if (allModified) continue
    let stored: Map<string, unknown>
    try {
      const users = await repository.byIds(
        chunk.map((link) => link.crudId),
        ctx,
        '_id,authUserId',
      )
      stored = new Map([...users.values()].map((user) => [user._id, user.authUserId]))
    } catch (error) {
      ctx.log.error({ err: error }, 'bulk activation: cannot read back the users of a failed CRUD PATCH /bulk')
      notLinked.push(...chunk.map((link) => ({ ...link, reason, certain: false })))
      continue
    }
    for (const link of chunk) if (stored.get(link.crudId) !== link.authUserId) notLinked.push({ ...link, reason, certain: !unanswered })
  }
  return notLinked
}
