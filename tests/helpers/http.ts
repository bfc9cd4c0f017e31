// A tiny HTTP client for the tests, returning status, headers and the parsed body. Light on
// purpose: the helpers of tests that never start ums import it.
import { request } from 'undici'

export interface Answer<T = unknown> {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: T
  text: string
}

export async function call<T = any>(
  base: string,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE' | 'HEAD',
  path: string,
  options: { json?: unknown; headers?: Record<string, string>; raw?: string } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers }
  let body: string | undefined
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json'
    body = JSON.stringify(options.json)
  } else if (options.raw !== undefined) {
    body = options.raw
  }
  const response = await request(`${base}${path}`, { method, headers, body })
  const text = await response.body.text()
  let parsed: unknown = text
  try {
    parsed = text === '' ? undefined : JSON.parse(text)
  } catch {
    parsed = text
  }
  return { status: response.statusCode, headers: response.headers, body: parsed as T, text }
}
