// PATCH /users/import: the multipart upload (a `file` part and the `delimiter`, `encoding`,
// `escape` fields, in any order) handed to src/services/import-csv/.
//
// The file part is written to a temporary file as it arrives (on disk, never in memory) and the
// import starts once the whole request is read: the options may follow the file (as in the
// documented curl example), and an upload over USER_IMPORT_MAX_FILE_SIZE is refused with 413
// before any user is written. The temporary file is then streamed through csv-parse and deleted.
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fastifyMultipart from '@fastify/multipart'
import { HttpError, badRequest, operation } from '../errors/index.js'
import { DEFAULT_IMPORT_OPTIONS, importOptions, importUsers } from '../services/import-csv/index.js'
import { errorResponses } from './schemas.js'

const OPTION_FIELDS = ['delimiter', 'encoding', 'escape'] as const

const importResult = {
  type: 'object',
  required: ['updated', 'inserted', 'invalid'],
  properties: {
    updated: { type: 'array', items: { type: 'string' }, description: '_id of the patched users (rows with `_id`)' },
    inserted: { type: 'array', items: { type: 'string' }, description: '_id of the inserted users' },
    invalid: {
      type: 'array',
      description: 'Skipped rows; `row` is 1 for the first data row',
      items: {
        type: 'object',
        required: ['row', 'error'],
        properties: { row: { type: 'integer' }, error: { type: 'string' } },
      },
    },
  },
} as const

const multipartBody = {
  type: 'object',
  required: ['file'],
  properties: {
    file: { type: 'string', format: 'binary', description: 'The CSV file: a header row naming the fields, `userGroup` required' },
    delimiter: { type: 'string', default: DEFAULT_IMPORT_OPTIONS.delimiter, description: 'One character; not `,` when array cells `[a, b]` are used' },
    encoding: { type: 'string', default: DEFAULT_IMPORT_OPTIONS.encoding, description: 'A Node.js text encoding (utf8, latin1, utf16le, ...)' },
    escape: { type: 'string', default: DEFAULT_IMPORT_OPTIONS.escape, description: 'Escape character inside quoted cells, or `null` for none' },
  },
} as const

interface Upload {
  /** The spooled file, when the request had a `file` part. */
  path: string | undefined
  fields: Partial<Record<(typeof OPTION_FIELDS)[number], string>>
  cleanup(): Promise<void>
}

const discard = () => new Writable({ write: (_chunk, _encoding, done) => done() })

/** Reads the whole multipart request: the first `file` part spooled to disk, option fields kept. */
async function receiveUpload(request: FastifyRequest, maxFileSize: number): Promise<Upload> {
  let directory: string | undefined
  const upload: Upload = {
    path: undefined,
    fields: {},
    cleanup: async () => {
      if (directory) await rm(directory, { recursive: true, force: true })
    },
  }
  try {
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        const name = OPTION_FIELDS.find((field) => field === part.fieldname)
        if (name) upload.fields[name] = String(part.value)
        continue
      }
      if (part.fieldname !== 'file' || upload.path !== undefined) {
        await pipeline(part.file, discard())
        continue
      }
      directory = await mkdtemp(join(tmpdir(), 'ums-import-'))
      const path = join(directory, 'upload.csv')
      await pipeline(part.file, createWriteStream(path))
      if (part.file.truncated) throw tooLarge(maxFileSize)
      upload.path = path
    }
  } catch (error) {
    await upload.cleanup()
    if ((error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw tooLarge(maxFileSize)
    if (isMalformedMultipart(error)) throw badRequest(`The multipart body could not be read: ${error.message}`, 'UMS_INVALID_REQUEST')
    throw error
  }
  return upload
}

/**
 * The multipart parser (busboy) refuses a body it cannot read with a plain Error and no code
 * ("Multipart: Boundary not found", "Unexpected end of multipart data", ...): the caller's mistake,
 * not a failure of ums. File system errors carry a code, limits and our refusals a status.
 */
function isMalformedMultipart(error: unknown): error is Error {
  return error instanceof Error && error.constructor === Error && !('code' in error) && !('statusCode' in error)
}

const tooLarge = (maxFileSize: number) => new HttpError(413, `The file is larger than USER_IMPORT_MAX_FILE_SIZE (${maxFileSize} bytes)`, 'UMS_FILE_TOO_LARGE')

export async function importRoutes(app: FastifyInstance): Promise<void> {
  const deps = app.users
  const maxFileSize = deps.config.userImportMaxFileSize
  await app.register(fastifyMultipart, {
    limits: { fileSize: maxFileSize, fieldSize: 1024, fields: 20, parts: 40, headerPairs: 100 },
  })

  app.patch('/users/import', {
    config: operation('importing'),
    schema: {
      tags: ['User Management'],
      operationId: 'importUsers',
      summary: 'Import users from a CSV file: rows with `_id` patch that user, the others are inserted',
      consumes: ['multipart/form-data'],
      body: multipartBody,
      response: { 200: importResult, ...errorResponses(400, 413, 415, 500) },
    },
    // The body schema documents the multipart form; the parts are read and checked in the handler.
    validatorCompiler: () => () => true,
  }, async (request) => {
    if (!request.isMultipart()) throw new HttpError(415, 'The request must be multipart/form-data with a file part', 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    const upload = await receiveUpload(request, maxFileSize)
    try {
      if (upload.path === undefined) throw badRequest('file is required: send the CSV as a multipart file part named file', 'UMS_MISSING_FILE')
      const options = importOptions(upload.fields)
      return await importUsers(deps, createReadStream(upload.path), options, request.callContext)
    } finally {
      await upload.cleanup()
    }
  })
}
