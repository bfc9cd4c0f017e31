// One call through openapi-fetch, settled: the body of a 2xx answer, UmsError otherwise.
import type { Client } from 'openapi-fetch'
import type { paths } from './openapi.js'
import { UmsError } from './errors.js'

export type Api = Client<paths>

interface Outcome<T> {
  data?: T
  error?: unknown
  response: Response
}

/** The body of a 2xx answer; UmsError for anything else, answered or not. */
export async function settle<T>(call: Promise<Outcome<T>>, signal?: AbortSignal): Promise<T> {
  let outcome: Outcome<T>
  try {
    outcome = await call
  } catch (error) {
    throw UmsError.fromFailure(error, signal)
  }
  if (!outcome.response.ok) throw UmsError.fromAnswer(outcome.response.status, outcome.error)
  return outcome.data as T
}
