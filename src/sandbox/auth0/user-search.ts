// `GET /users` of the Auth0 Client emulator: paging (`_l`, `_sk`),
// field filters with wildcards, `connection`, `app_metadata.*`, the `_q` MongoDB-style filter
// (equality and `$in`) and Auth0's search lag.
import { MAX_IDS_PER_USERS_LOOKUP, USERS_FILTER_QUERY_PARAM } from '../../auth-providers/auth0-contract.js'
import { miaError } from './errors.js'
import type { ResolvedOptions } from './options.js'
import { isPlainObject, type Auth0User, type StoredUser } from './users.js'

export type QueryValue = string | string[] | undefined

const DEFAULT_PAGE_SIZE = 25

type Predicate = (user: StoredUser) => boolean

const values = (value: QueryValue): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value])

function readPath(profile: Auth0User, path: string): unknown {
  let current: unknown = profile
  for (const key of path.split('.')) {
    if (!isPlainObject(current)) return undefined
    current = current[key]
  }
  return current
}

function equalsValue(actual: unknown, expected: unknown, caseInsensitive: boolean): boolean {
  if (Array.isArray(actual)) return actual.some((item) => equalsValue(item, expected, caseInsensitive))
  if (caseInsensitive && typeof actual === 'string' && typeof expected === 'string') {
    return actual.toLowerCase() === expected.toLowerCase()
  }
  return actual === expected || (actual !== undefined && actual !== null && typeof expected === 'string' && String(actual) === expected)
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
  if (!isPlainObject(filter)) throw miaError(400, `${USERS_FILTER_QUERY_PARAM} must be a JSON object`)
  return Object.entries(filter).map(([field, condition]): Predicate => {
    const caseInsensitive = field === 'email'
    let accepted: unknown[] = [condition]
    if (isPlainObject(condition)) {
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
    return (user) => {
      const actual = readPath(user.profile, field)
      return accepted.some((expected) => equalsValue(actual, expected, caseInsensitive))
    }
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
    const expected = values(raw)
    predicates.push((user) => {
      const actual = readPath(user.profile, key)
      return expected.some((value) => equalsValue(actual, value, false))
    })
  }
  predicates.push(...filterPredicates(query[USERS_FILTER_QUERY_PARAM]))
  return users
    .filter((user) => predicates.every((predicate) => predicate(user)))
    .slice(skip, skip + limit)
    .map((user) => structuredClone(user.profile))
}
