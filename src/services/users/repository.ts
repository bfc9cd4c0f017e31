// The users collection as the services read it: every matching user page by page, users by `_id`
// or by `authUserId` in chunks, and the one rule of who must not be able to log in.
import type { CallContext } from '../../clients/http.js'
import { ALL_STATES, type CrudCollection } from '../../clients/crud.js'
import { UpstreamError } from '../../errors/index.js'

/** Ids per `$in` read and documents per page: the CRUD Service's page maximum. */
export const USERS_PAGE_SIZE = 200

/** The fields of a user that the services reason about (any of them may be missing). */
export interface StoredUser {
  _id: string
  authUserId?: unknown
  email?: unknown
  username?: unknown
  blocked?: unknown
  roles?: unknown
  groups?: unknown
  expirationDate?: unknown
  expirationId?: unknown
  updatedAt?: unknown
  __STATE__?: unknown
}

/**
 * A user outside PUBLIC, or flagged `blocked` (by hand or by its expiry), must not be able to log
 * in: its auth user is kept blocked.
 */
export function mustBeBlocked(user: Record<string, unknown> | StoredUser): boolean {
  return user.blocked === true || (typeof user.__STATE__ === 'string' && user.__STATE__ !== 'PUBLIC')
}

export interface PageOptions {
  /** Comma list of states (default: all of them). */
  states?: string
  /** Comma list of fields to read (`_p`). */
  fields?: string
  pageSize?: number
}

export class UsersRepository {
  constructor(private readonly users: CrudCollection) {}

  /**
   * Every user matching `filter`, page by page in `_id` order. Each page starts after the last
   * `_id` of the previous one, so users added or removed meanwhile do not shift the pages.
   */
  async *pages<T extends { _id: string } = StoredUser>(filter: Record<string, unknown>, ctx: CallContext, options: PageOptions = {}): AsyncGenerator<T[]> {
    const pageSize = options.pageSize ?? USERS_PAGE_SIZE
    let after: string | undefined
    for (;;) {
      const query = after === undefined ? filter : { $and: [filter, { _id: { $gt: after } }] }
      const page = await this.users.list<T>(
        { _q: JSON.stringify(query), _st: options.states ?? ALL_STATES, _s: '_id', _l: pageSize, ...(options.fields ? { _p: options.fields } : {}) },
        ctx,
      )
      if (page.length > 0) yield page
      if (page.length < pageSize) return
      after = page[page.length - 1]!._id
    }
  }

  /** Every user matching `filter`, read in pages. */
  async all<T extends { _id: string } = StoredUser>(filter: Record<string, unknown>, ctx: CallContext, options: PageOptions = {}): Promise<T[]> {
    const users: T[] = []
    for await (const page of this.pages<T>(filter, ctx, options)) users.push(...page)
    return users
  }

  /**
   * The users with those `_id`s, in any state. A chunk the CRUD refuses with 400 (an `_id` that
   * is not a valid ObjectId in an ObjectId collection) is read again one id at a time, so that only
   * the bad ids go missing, unless `oneByOneOnRefusal` is false: then the 400 is thrown. Other
   * failures throw.
   */
  async byIds<T extends { _id: string } = StoredUser>(
    ids: readonly string[],
    ctx: CallContext,
    fields?: string,
    { oneByOneOnRefusal = true }: { oneByOneOnRefusal?: boolean } = {},
  ): Promise<Map<string, T>> {
    const found = new Map<string, T>()
    for (let start = 0; start < ids.length; start += USERS_PAGE_SIZE) {
      const chunk = ids.slice(start, start + USERS_PAGE_SIZE)
      let users: T[]
      try {
        users = await this.users.list<T>({ _q: JSON.stringify({ _id: { $in: chunk } }), _st: ALL_STATES, _l: chunk.length, ...(fields ? { _p: fields } : {}) }, ctx)
      } catch (error) {
        if (!oneByOneOnRefusal || !(error instanceof UpstreamError) || error.status !== 400) throw error
        users = []
        for (const id of chunk) {
          try {
            const user = await this.users.getById<T>(id, ctx)
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

  /** The users, in any state, whose `authUserId` is one of `authUserIds`. */
  async byAuthUserIds<T extends { _id: string } = StoredUser>(authUserIds: readonly string[], ctx: CallContext, fields?: string): Promise<T[]> {
    const users: T[] = []
    for (let start = 0; start < authUserIds.length; start += USERS_PAGE_SIZE) {
      const chunk = authUserIds.slice(start, start + USERS_PAGE_SIZE)
      users.push(...(await this.all<T>({ authUserId: { $in: chunk } }, ctx, { fields })))
    }
    return users
  }
}
