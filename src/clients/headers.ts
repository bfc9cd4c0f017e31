// Which incoming headers reach which peer.
// Every header list of the service lives here.
import type { IncomingHttpHeaders } from 'node:http'
import type { PlatformHeaderKeys } from '../config/index.js'

export type HeaderMap = Record<string, string>

/** The W3C trace context: forwarded as received while tracing is off, rewritten for each peer call's span when on. */
export const W3C_TRACE_HEADERS = ['traceparent', 'tracestate'] as const

/**
 * Copied to every peer when present (group 2 of the platform convention), plus the W3C trace
 * context, so that a caller's trace reaches the peers whether or not ums traces itself.
 */
export const TRACING_HEADERS = ['x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', ...W3C_TRACE_HEADERS] as const

/** End-user credentials the auth service needs on session calls (login, refresh, userinfo). */
export const SESSION_CREDENTIAL_HEADERS = ['cookie', 'authorization', 'client-key'] as const

/** CRUD row/column filters: forwarded to the CRUD on proxied reads, never to the auth service. */
export const ACL_HEADERS = ['acl_rows', 'acl_read_columns'] as const

/** How the caller encoded `_q` (e.g. base64): the CRUD must know to decode a proxied query. */
export const CRUD_QUERY_ENCODING_HEADERS = ['json-query-params-encoding', 'json_query_params_encoding'] as const

/** Never forwarded: they describe the incoming connection or body, not the caller. */
const CONNECTION_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'content-length',
  'content-type',
  'transfer-encoding',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-connection',
])

/** Headers whose values may be secrets: redacted from every log line. */
export const SECRET_HEADERS = ['authorization', 'cookie', 'set-cookie', 'client-key', 'secret'] as const

function single(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined
  return Array.isArray(value) ? value.join(', ') : value
}

/** Copies into `into` the named headers that are present and non-empty. Names must be lower case. */
function copyHeaders(incoming: IncomingHttpHeaders, names: readonly string[], into: HeaderMap): void {
  for (const name of names) {
    if (CONNECTION_HEADERS.has(name)) continue
    const value = single(incoming[name])
    if (value !== undefined && value !== '') into[name] = value
  }
}

/** Copies the named headers that are present and non-empty. Names must be lower case. */
export function pickHeaders(incoming: IncomingHttpHeaders, names: readonly string[]): HeaderMap {
  const picked: HeaderMap = {}
  copyHeaders(incoming, names, picked)
  return picked
}

/**
 * The header set forwarded on every peer call for one incoming request: the platform headers
 * re-emitted from their parsed values, the tracing headers, then `ADDITIONAL_HEADERS_TO_PROXY`
 * (later groups win). Computed once per request, for every request: copied straight into the
 * one map, and absent headers cost a lookup.
 */
export function platformForwardedHeaders(
  incoming: IncomingHttpHeaders,
  keys: PlatformHeaderKeys,
  additionalHeaders: readonly string[],
): HeaderMap {
  const headers: HeaderMap = {}
  const userId = single(incoming[keys.userId])
  if (userId) headers[keys.userId] = userId

  const properties = single(incoming[keys.userProperties])
  if (properties) {
    try {
      headers[keys.userProperties] = JSON.stringify(JSON.parse(properties))
    } catch {
      // The platform drops user properties that are not valid JSON rather than failing the call.
    }
  }

  const groupList = single(incoming[keys.groups])
  if (groupList) {
    const groups = groupList.split(',').filter((group) => group !== '')
    if (groups.length > 0) headers[keys.groups] = groups.join(',')
  }

  const clientType = single(incoming[keys.clientType])
  if (clientType) headers[keys.clientType] = clientType

  if (single(incoming[keys.backoffice])) headers[keys.backoffice] = '1'

  copyHeaders(incoming, TRACING_HEADERS, headers)
  copyHeaders(incoming, additionalHeaders, headers)
  return headers
}

/** The forwarded set minus the headers that must never reach the auth service. */
export function withoutAclHeaders(headers: HeaderMap): HeaderMap {
  const copy = { ...headers }
  for (const name of ACL_HEADERS) delete copy[name]
  return copy
}
