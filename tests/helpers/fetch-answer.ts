// The whole answer of a fetch() call, read once: shared by the HTTP callers of the emulator tests.

export interface FetchAnswer {
  status: number
  headers: Headers
  text: string
  /** The parsed body; undefined when it is empty or not JSON. */
  json: unknown
}

export async function readAnswer(response: Response): Promise<FetchAnswer> {
  const text = await response.text()
  let json: unknown
  try {
    json = text === '' ? undefined : (JSON.parse(text) as unknown)
  } catch {
    json = undefined
  }
  return { status: response.status, headers: response.headers, text, json }
}
