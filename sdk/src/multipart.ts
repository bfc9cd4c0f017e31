// The multipart body of PATCH /users/import, written as a stream so that an upload can report its
// bytes as fetch takes them (FormData gives no progress) and a file is read from disk in chunks
// rather than loaded whole.

/** A CSV to upload: a file path (Node), or the contents. */
export type CsvSource = string | Blob | Uint8Array

export interface UploadProgress {
  /** Bytes of the request body handed to fetch so far. */
  sent: number
  /** Bytes of the whole request body. */
  total: number
}

export interface MultipartUpload {
  body: ReadableStream<Uint8Array>
  contentType: string
  total: number
}

const CHUNK_BYTES = 64 * 1024
const encoder = new TextEncoder()

/** The chunks of the file part and its size, without reading it yet. */
async function fileChunks(source: CsvSource): Promise<{ name: string; size: number; chunks: () => AsyncIterable<Uint8Array> }> {
  if (typeof source === 'string') {
    // Loaded here only: the rest of the SDK needs nothing from Node.
    const [{ createReadStream }, { stat }, { basename }] = await Promise.all([import('node:fs'), import('node:fs/promises'), import('node:path')])
    const { size } = await stat(source)
    return { name: basename(source), size, chunks: () => createReadStream(source, { highWaterMark: CHUNK_BYTES }) }
  }
  const bytes = source instanceof Blob ? undefined : source
  if (bytes) {
    return {
      name: 'users.csv',
      size: bytes.byteLength,
      chunks: async function* () {
        for (let offset = 0; offset < bytes.byteLength; offset += CHUNK_BYTES) yield bytes.subarray(offset, offset + CHUNK_BYTES)
      },
    }
  }
  const blob = source as Blob
  return {
    name: 'users.csv',
    size: blob.size,
    chunks: async function* () {
      const reader = blob.stream().getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return
        yield value
      }
    },
  }
}

const quoted = (value: string) => `"${value.replace(/["\\\r\n]/g, (char) => encodeURIComponent(char))}"`

/** The body: the option fields, then the file part named `file`; `onProgress` after each chunk taken. */
export async function multipartUpload(source: CsvSource, fields: Record<string, string | undefined>, onProgress?: (progress: UploadProgress) => void): Promise<MultipartUpload> {
  const boundary = `ums-sdk-${crypto.randomUUID()}`
  const file = await fileChunks(source)
  let head = ''
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) head += `--${boundary}\r\nContent-Disposition: form-data; name=${quoted(name)}\r\n\r\n${value}\r\n`
  }
  head += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename=${quoted(file.name)}\r\nContent-Type: text/csv\r\n\r\n`
  const parts = [encoder.encode(head), encoder.encode(`\r\n--${boundary}--\r\n`)] as const
  const total = parts[0].byteLength + file.size + parts[1].byteLength

  let sent = 0
  let iterator: AsyncIterator<Uint8Array> | undefined
  let stage: 'head' | 'file' | 'tail' | 'done' = 'head'
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Uint8Array | undefined
      if (stage === 'head') {
        chunk = parts[0]
        stage = 'file'
      } else if (stage === 'file') {
        iterator ??= file.chunks()[Symbol.asyncIterator]()
        const next = await iterator.next()
        if (next.done) {
          chunk = parts[1]
          stage = 'tail'
        } else {
          chunk = next.value
        }
      }
      if (chunk === undefined) {
        stage = 'done'
        controller.close()
        return
      }
      controller.enqueue(chunk)
      sent += chunk.byteLength
      onProgress?.({ sent, total })
      if (stage === 'tail') {
        stage = 'done'
        controller.close()
      }
    },
    async cancel() {
      await iterator?.return?.()
    },
  })
  return { body, contentType: `multipart/form-data; boundary=${boundary}`, total }
}
