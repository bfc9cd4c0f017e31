// The CRUD side of a bulk activation: reading the selected users by `_id` in pages, and writing
// each activated user's `authUserId` with `PATCH /bulk`, checking what was really written.
import type { CallContext } from '../../clients/http.js'
import { ALL_STATES, type CrudClient } from '../../clients/crud.js'
import { UpstreamError } from '../../errors.js'
import type { ActivationCandidate } from './files.js'

/** Ids per `_id $in` read and items per `PATCH /bulk` call: the CRUD Service's page maximum. */
export const CRUD_PAGE = 200

const PROJECTION = '_id,email,username,blocked,authUserId,__STATE__'

/**
 * The users with those `_id`s, in any state (a user outside PUBLIC is activated blocked). A page
 * the CRUD refuses with 400 (an `_id` that is not a valid ObjectId in an ObjectId collection) is
 * read again one id at a time, so that only the bad ids go missing. Other failures throw.
 */
export async function readCandidates(crud: CrudClient, ids: string[], ctx: CallContext): Promise<Map<string, ActivationCandidate>> {
  const found = new Map<string, ActivationCandidate>()
  for (let start = 0; start < ids.length; start += CRUD_PAGE) {
    const page = ids.slice(start, start + CRUD_PAGE)
    let users: ActivationCandidate[]
    try {
      users = await crud.users.list<ActivationCandidate>(
        { _q: JSON.stringify({ _id: { $in: page } }), _st: ALL_STATES, _p: PROJECTION, _l: page.length },
        ctx,
      )
    } catch (error) {
      if (!(error instanceof UpstreamError) || error.status !== 400) throw error
      users = []
      for (const id of page) {
        try {
          const user = await crud.users.getById<ActivationCandidate>(id, ctx)
          if (user) users.push(user)
        } catch (oneError) {
          if (!(oneError instanceof UpstreamError) || oneError.status !== 400) throw oneError
        }
      }
    }
    for (const user of users) if (typeof user._id === 'string') found.set(user._id, user)
  }
  return found
}

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
export async function writeLinks(crud: CrudClient, links: Link[], ctx: CallContext): Promise<NotLinked[]> {
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
        reason = error instanceof Error ? error.message : 'unknown error'
        answered = error instanceof UpstreamError && error.status !== undefined
        if (!answered) unanswered = true
        ctx.log.warn({ err: error, attempt }, 'bulk activation: CRUD PATCH /bulk failed')
      }
    }
    if (allModified) continue
    let stored: Map<string, unknown>
    try {
      const users = await crud.users.list<{ _id: string; authUserId?: unknown }>(
        { _q: JSON.stringify({ _id: { $in: chunk.map((link) => link.crudId) } }), _st: ALL_STATES, _p: 'authUserId', _l: chunk.length },
        ctx,
      )
      stored = new Map(users.map((user) => [user._id, user.authUserId]))
    } catch (error) {
      ctx.log.error({ err: error }, 'bulk activation: cannot read back the users of a failed CRUD PATCH /bulk')
      notLinked.push(...chunk.map((link) => ({ ...link, reason, certain: false })))
      continue
    }
    for (const link of chunk) if (stored.get(link.crudId) !== link.authUserId) notLinked.push({ ...link, reason, certain: !unanswered })
  }
  return notLinked
}
