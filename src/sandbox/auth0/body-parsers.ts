// Request bodies Fastify does not parse by itself: the form-encoded login and
// the multipart import. The parsed value becomes `request.body`, so the request log
// records it; the raw multipart parts stay available to the import route.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { miaError } from './errors.js'

export interface MultipartPart {
  name: string
  filename?: string
  contentType?: string
  data: Buffer
}

/** What the request log shows for a file part; `json` is the parsed content when it is JSON. */
export interface UploadedFileSummary {
  filename: string | undefined
  size: number
  contentType: string | undefined
  json?: unknown
}

const partsByRequest = new WeakMap<FastifyRequest, Map<string, MultipartPart>>()

export function multipartParts(request: FastifyRequest): Map<string, MultipartPart> | undefined {
  return partsByRequest.get(request)
}

function boundaryOf(contentType: string): string {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)
  const boundary = match?.[1] ?? match?.[2]
  if (!boundary) throw miaError(400, 'multipart body without boundary')
  return boundary
}

function parsePartHeaders(text: string): Omit<MultipartPart, 'data'> {
  let name: string | undefined
  let filename: string | undefined
  let contentType: string | undefined
  for (const line of text.split('\r\n')) {
    const separator = line.indexOf(':')
    const key = line.slice(0, separator).trim().toLowerCase()
    const value = line.slice(separator + 1).trim()
    if (key === 'content-disposition') {
      name = /(?:^|;)\s*name="([^"]*)"/i.exec(value)?.[1]
      filename = /(?:^|;)\s*filename="([^"]*)"/i.exec(value)?.[1]
    } else if (key === 'content-type') {
      contentType = value
    }
  }
  if (name === undefined) throw miaError(400, 'multipart part without a name')
  return { name, ...(filename !== undefined && { filename }), ...(contentType !== undefined && { contentType }) }
}

export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] {
  const delimiter = Buffer.from(`--${boundaryOf(contentType)}`)
  const parts: MultipartPart[] = []
  let cursor = body.indexOf(delimiter)
  if (cursor < 0) throw miaError(400, 'malformed multipart body')
  for (;;) {
    cursor += delimiter.length
    if (body.subarray(cursor, cursor + 2).toString() === '--') return parts
    const headersStart = cursor + 2
    const headersEnd = body.indexOf('\r\n\r\n', headersStart)
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headersStart)
    if (headersEnd < 0 || next < 0 || headersEnd > next) throw miaError(400, 'malformed multipart body')
    parts.push({ ...parsePartHeaders(body.subarray(headersStart, headersEnd).toString('utf8')), data: body.subarray(headersEnd + 4, next) })
    cursor = next + 2
  }
}

function summarize(part: MultipartPart): string | UploadedFileSummary {
  if (part.filename === undefined) return part.data.toString('utf8')
  const summary: UploadedFileSummary = { filename: part.filename, size: part.data.length, contentType: part.contentType }
  try {
    summary.json = JSON.parse(part.data.toString('utf8'))
  } catch {
    // Not JSON: the summary without content is all the log needs; the job will fail on it.
  }
  return summary
}

export function registerBodyParsers(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body.toString())))
  })
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body)
      const parts = parseMultipart(buffer, request.headers['content-type'] ?? '')
      partsByRequest.set(request, new Map(parts.map((part) => [part.name, part])))
      done(null, Object.fromEntries(parts.map((part) => [part.name, summarize(part)])))
    } catch (error) {
      done(error as Error, undefined)
    }
  })
}
