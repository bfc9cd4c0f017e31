// Shared by the Auth0 Client emulator tests: a small fetch wrapper that reads the whole answer.
export interface Answer {
  status: number
  headers: Headers
  text: string
  json: unknown
}

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
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body, redirect: 'manual' })
  const text = await response.text()
  let json: unknown
  try {
    json = text === '' ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: response.status, headers: response.headers, text, json }
}

/** The multipart body of `POST /users/import`, as the UMS sends it. */
export function importForm(users: unknown, fields: Record<string, string> = {}): FormData {
  const form = new FormData()
  const content = typeof users === 'string' ? users : JSON.stringify(users)
  form.append('users', new Blob([content], { type: 'application/json' }), 'users.json')
  for (const [name, value] of Object.entries(fields)) form.append(name, value)
  return form
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(5)
  }
}
