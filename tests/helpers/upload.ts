// Multipart uploads for PATCH /users/import: a CSV file part plus option fields, in a chosen order.
import { FormData, request } from 'undici'
import type { Answer } from './stack.js'

export interface UploadOptions {
  /** Option fields (`delimiter`, `encoding`, `escape`, ...). */
  fields?: Record<string, string>
  /** Send the fields before the file part (default: after it, like the documented curl example). */
  fieldsFirst?: boolean
  /** Name of the file part (default `file`); `null` sends no file part at all. */
  fileField?: string | null
}

export async function uploadCsv<T = any>(base: string, csv: string | Buffer, options: UploadOptions = {}): Promise<Answer<T>> {
  const form = new FormData()
  const fields = Object.entries(options.fields ?? {})
  const appendFields = () => {
    for (const [name, value] of fields) form.append(name, value)
  }
  if (options.fieldsFirst) appendFields()
  if (options.fileField !== null) {
    const bytes = typeof csv === 'string' ? Buffer.from(csv, 'utf8') : csv
    form.append(options.fileField ?? 'file', new Blob([bytes], { type: 'text/csv' }), 'users.csv')
  }
  if (!options.fieldsFirst) appendFields()
  const response = await request(`${base}/users/import`, { method: 'PATCH', body: form })
  const text = await response.body.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    body = text
  }
  return { status: response.statusCode, headers: response.headers, body: body as T, text }
}

/** A CSV text from rows of cells joined with `delimiter`, one line each. */
export function csvOf(rows: string[][], delimiter = ','): string {
  return `${rows.map((cells) => cells.join(delimiter)).join('\n')}\n`
}
