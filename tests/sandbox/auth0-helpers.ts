// Shared by the Auth0 Client emulator tests: a small fetch wrapper that reads the whole answer,
// and the emulator of a test file.
import { afterAll, beforeAll, beforeEach, vi } from 'vitest'
import { Auth0ClientEmulator, type Auth0EmulatorOptions } from '../../src/sandbox/auth0-emulator.js'
import { readAnswer, type FetchAnswer } from '../helpers/fetch-answer.js'

export type Answer = FetchAnswer

export interface CallOptions {
  headers?: Record<string, string>
  json?: unknown
  form?: Record<string, string>
  body?: FormData | string
  clientType?: string | null
}

/** `clientType` defaults to `backoffice`; pass null to send no `client-type` header. */
export async function call(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.clientType !== null) headers['client-type'] = options.clientType ?? 'backoffice'
  let body: FormData | string | undefined = options.body
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.json)
  } else if (options.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded'
    body = new URLSearchParams(options.form).toString()
  }
  return readAnswer(await fetch(`${baseUrl}${path}`, { method, headers, body, redirect: 'manual' }))
}

/**
 * An emulator for the file (or describe block): started before all its tests, reset before each
 * one, closed after; `call` sends to it (see `call` above for the options).
 */
export function useAuth0Emulator(options?: Auth0EmulatorOptions) {
  const emulator = new Auth0ClientEmulator(options)
  let base = ''
  beforeAll(async () => {
    base = (await emulator.start()).url
  })
  afterAll(async () => {
    await emulator.close()
  })
  beforeEach(() => {
    emulator.reset()
  })
  return { emulator, call: (method: string, path: string, callOptions?: CallOptions) => call(base, method, path, callOptions) }
}

/** The multipart body of `POST /users/import`, as the UMS sends it. */
export function importForm(users: unknown, fields: Record<string, string> = {}): FormData {
  const form = new FormData()
  const content = typeof users === 'string' ? users : JSON.stringify(users)
  form.append('users', new Blob([content], { type: 'application/json' }), 'users.json')
  for (const [name, value] of Object.entries(fields)) form.append(name, value)
  return form
}

/**
 * Fakes `toFake` for the rest of the file, following real time, so that a test can jump ahead
 * with `vi.advanceTimersByTime(Async)` instead of sleeping. Call it before `useAuth0Emulator`: the
 * emulator's clock is the `Date.now` of when it is constructed.
 */
export function useMovableClock(toFake: Array<'Date' | 'setTimeout' | 'clearTimeout'> = ['Date']): void {
  vi.useFakeTimers({ toFake, shouldAdvanceTime: true })
  afterAll(() => {
    vi.useRealTimers()
  })
}
