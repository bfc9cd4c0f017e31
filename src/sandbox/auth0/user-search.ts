// `GET /users` of the Auth0 Client emulator: paging (`_l`, `_sk`),
// field filters with wildcards, `connection`, `app_metadata.*`, the `_q` MongoDB-style filter
// (equality and `$in`) and Auth0's search lag.
//
// A search still visits the users in insertion order, but cheaply enough for a tenant of 100,000
// users read page by page: a `$in` of up to 100 values is one set lookup per user (see
// `valueMatcher`), paths are split once per search, and the walk stops at the end of the page.
import { MAX_IDS_PER_USERS_LOOKUP, USERS_FILTER_QUERY_PARAM } from '../../auth-providers/auth0-contract.js'
import { miaError } from './errors.js'
import type { ResolvedOptions } from './options.js'
import { type Auth0User, type StoredUser } from './users.js'
import { isPlainObject } from '../../lib/plain-object.js'

export type QueryValue = string | string[] | undefined

const DEFAULT_PAGE_SIZE = 25

type Predicate = (user: StoredUser) => boolean

const values = (value: QueryValue): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value])

function readPath(profile: Auth0User, keys: readonly string[]): unknown {
  let current: unknown = profile
  for (const key of keys) {
    if (!isPlainObject(current, 'any')) return undefined
    current = current[key]
  }
  return current
}

/**
 * Whether a stored value equals one of `accepted`: an array matches when one of its items does;
 * a string expected value matches the same string (in any case when `caseInsensitive` and the
 * actual value is a string too) or any other present value whose text it is (`7` matches `'7'`);
 * any other expected value matches only itself. The expected strings are put in a set once, so
 * testing a user against a `$in` of 100 ids costs one lookup instead of 100 comparisons.
 */
function valueMatcher(accepted: readonly unknown[], caseInsensitive: boolean): (actual: unknown) => boolean {
  const texts = new Set<string>()
  const folded = new Set<string>()
  const others: unknown[] = []
  for (const expected of accepted) {
    if (typeof expected === 'string') {
      texts.add(expected)
      folded.add(expected.toLowerCase())
    } else {
      others.push(expected)
    }
  }
  const matches = (actual: unknown): boolean => {
    if (Array.isArray(actual)) return actual.some(matches)
    if (typeof actual === 'string') return caseInsensitive ? folded.has(actual.toLowerCase()) : texts.has(actual)
    if (others.some((expected) => expected === actual)) return true
    return actual !== undefined && actual !== null && texts.size > 0 && texts.has(String(actual))
  }
  return matches
}

function wildcard(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')
  return new RegExp(`^${escaped}$`, 'i')
}

function nonNegativeInteger(raw: QueryValue, name: string, fallback: number): number {
  const [first] = values(raw)
  if (first === undefined) return fallback
  if (!/^\d+$/.test(first)) throw miaError(400, `${name} must be a non-negative integer`)
  return Number(first)
}

/** Predicates of the `_q` filter: `{field: value}` or `{field: {$in: [...]} | {$eq: value}}`. */
function filterPredicates(raw: QueryValue): Predicate[] {
  const [text] = values(raw)
  if (text === undefined) return []
  let filter: unknown
  try {
    filter = JSON.parse(text)
  } catch {
    throw miaError(400, `${USERS_FILTER_QUERY_PARAM} is not valid JSON`)
  }
  if (!isPlainObject(filter, 'any')) throw miaError(400, `${USERS_FILTER_QUERY_PARAM} must be a JSON object`)
  return Object.entries(filter).map(([field, condition]): Predicate => {
    const caseInsensitive = field === 'email'
    let accepted: unknown[] = [condition]
    if (isPlainObject(condition, 'any')) {
      const [operator, ...others] = Object.keys(condition)
      const operand = operator === undefined ? undefined : condition[operator]
      if (others.length > 0 || (operator !== '$in' && operator !== '$eq')) {
        throw miaError(400, `unsupported ${USERS_FILTER_QUERY_PARAM} condition on ${field}: only equality and $in`)
      }
      if (operator === '$in') {
        if (!Array.isArray(operand)) throw miaError(400, `$in on ${field} needs an array`)
        if (operand.length > MAX_IDS_PER_USERS_LOOKUP) throw miaError(400, `$in on ${field} accepts at most ${MAX_IDS_PER_USERS_LOOKUP} values`)
        accepted = operand
      } else {
        accepted = [operand]
      }
    }
    const keys = field.split('.')
    const matches = valueMatcher(accepted, caseInsensitive)
    return (user) => matches(readPath(user.profile, keys))
  })
}

export function searchUsers(
  users: StoredUser[],
  query: Record<string, QueryValue>,
  options: ResolvedOptions,
  nowMs: number,
): Auth0User[] {
  const limit = Math.min(nonNegativeInteger(query._l, '_l', DEFAULT_PAGE_SIZE), 100)
  const skip = nonNegativeInteger(query._sk, '_sk', 0)
  const connections = values(query.connection)
  for (const connection of connections) {
    if (!Object.hasOwn(options.connections, connection)) throw miaError(400, `connection ${JSON.stringify(connection)} is not supported`)
  }
  const predicates: Predicate[] = [(user) => user.visibleAtMs <= nowMs]
  if (connections.length > 0) predicates.push((user) => connections.includes(user.connection))
  for (const field of ['email', 'username', 'nickname'] as const) {
    const patterns = values(query[field]).map(wildcard)
    if (patterns.length > 0) {
      predicates.push((user) => {
        const actual = user.profile[field]
        return actual !== undefined && patterns.some((pattern) => pattern.test(actual))
      })
    }
  }
  for (const [key, raw] of Object.entries(query)) {
    if (!key.startsWith('app_metadata.')) continue
    const keys = key.split('.')
    const matches = valueMatcher(values(raw), false)
    predicates.push((user) => matches(readPath(user.profile, keys)))
  }
  predicates.push(...filterPredicates(query[USERS_FILTER_QUERY_PARAM]))
  // The matches from `skip` on, at most `limit` of them: the users after the page are not visited.
  const page: Auth0User[] = []
  if (limit === 0) return page
  let matched = 0
  for (const user of users) {
    if (!predicates.every((predicate) => predicate(user))) continue
    matched += 1
    if (matched <= skip) continue
    page.push(structuredClone(user.profile))
    if (page.length === limit) break
  }
  return page
}
