// PATCH /users/import: a CSV file streamed through csv-parse (header row, never held whole in
// memory), each row typed and validated with its group schema, rows with `_id` patched and the
// others inserted in CRUD bulk calls (src/services/import-csv/writer.ts).
import { pipeline, type Readable } from 'node:stream'
import { parse } from 'csv-parse'
import type { CallContext } from '../../clients/http.js'
import { badRequest } from '../../errors/index.js'
import { countImportRows } from '../../observability/metrics.js'
import type { UsersDeps } from '../users/context.js'
import { ImportGroups, prepareRow, skipping, type RowError } from './rows.js'
import { ImportWriter } from './writer.js'

export interface ImportOptions {
  delimiter: string
  encoding: BufferEncoding
  /** `null`: no escape character. */
  escape: string | null
}

export interface ImportResult {
  updated: string[]
  inserted: string[]
  invalid: RowError[]
}

export const DEFAULT_IMPORT_OPTIONS: ImportOptions = { delimiter: ',', encoding: 'utf8', escape: '"' }

/** Encodings Buffer knows that do not describe text (csv-parse could not find delimiters in them). */
const BINARY_ENCODINGS = new Set(['hex', 'base64', 'base64url'])
const RESERVED = new Set(['"', '\r', '\n'])

const oneCharacter = (value: string) => [...value].length === 1

/** `";"` → `;`: curl's `-F 'delimiter=";"'` strips the quotes, clients copying it literally may not. */
function unquoted(value: string | undefined): string | undefined {
  return value !== undefined && /^"[^"]"$/u.test(value) ? value.slice(1, -1) : value
}

/** The multipart option fields, checked: 400 naming the field when one is not usable. */
export function importOptions(fields: Readonly<Record<string, string | undefined>>): ImportOptions {
  const delimiter = unquoted(fields.delimiter) ?? DEFAULT_IMPORT_OPTIONS.delimiter
  if (delimiter === '') throw badRequest('delimiter is empty: send one character other than a double quote or a line break', 'UMS_INVALID_IMPORT_OPTION')
  if (!oneCharacter(delimiter) || RESERVED.has(delimiter)) {
    throw badRequest('delimiter must be one character other than a double quote or a line break', 'UMS_INVALID_IMPORT_OPTION')
  }
  const encoding = fields.encoding ?? DEFAULT_IMPORT_OPTIONS.encoding
  if (!Buffer.isEncoding(encoding) || BINARY_ENCODINGS.has(encoding.toLowerCase())) {
    throw badRequest(`Unknown encoding ${JSON.stringify(encoding)}: use a text encoding such as utf8 or latin1`, 'UMS_INVALID_IMPORT_OPTION')
  }
  const rawEscape = unquoted(fields.escape) ?? DEFAULT_IMPORT_OPTIONS.escape
  const escape = rawEscape === 'null' ? null : rawEscape
  if (escape === '') throw badRequest('escape is empty: send one character (not the delimiter nor a line break) or null', 'UMS_INVALID_IMPORT_OPTION')
  if (escape !== null && (!oneCharacter(escape) || escape === delimiter || escape === '\r' || escape === '\n')) {
    throw badRequest('escape must be one character (not the delimiter nor a line break) or null', 'UMS_INVALID_IMPORT_OPTION')
  }
  return { delimiter, encoding, escape }
}

/** Header names trimmed; an empty one drops its column; `userGroup` required, no name twice. */
function checkedHeader(names: string[]): Array<string | undefined> {
  const seen = new Set<string>()
  const header = names.map((raw) => {
    const name = raw.trim()
    if (name === '') return undefined
    if (seen.has(name)) throw badRequest(`The CSV header names the column ${name} twice`, 'UMS_INVALID_CSV')
    seen.add(name)
    return name
  })
  if (!seen.has('userGroup')) throw badRequest('The CSV header has no userGroup column', 'UMS_INVALID_CSV')
  return header
}

/** A record csv-parse skipped: a wrong number of cells, or a malformed one (an unclosed quote...). */
interface Skip {
  /** Records delivered before it. */
  records: number
  code: string
  cells: number | undefined
}

const INCONSISTENT_COLUMNS = 'CSV_RECORD_INCONSISTENT_COLUMNS'

/** Imports the users of `input` (the CSV bytes); 200 outcome, or 400/500 for the whole import. */
export async function importUsers(deps: UsersDeps, input: Readable, options: ImportOptions, ctx: CallContext): Promise<ImportResult> {
  let header: Array<string | undefined> | undefined
  let headerError: unknown
  const parser = parse({
    columns: (names: string[]) => {
      try {
        header = checkedHeader(names)
      } catch (error) {
        headerError = error
        header = names
      }
      return header
    },
    delimiter: options.delimiter,
    encoding: options.encoding,
    escape: options.escape,
    bom: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
  })
  // The parser runs ahead of the rows being handled: its skips are queued and numbered in order.
  const skips: Skip[] = []
  parser.on('skip', (error: { records?: number; code?: string; record?: unknown }) => {
    skips.push({ records: error.records ?? 0, code: error.code ?? 'CSV_ERROR', cells: Array.isArray(error.record) ? error.record.length : undefined })
  })
  pipeline(input, parser, () => {})

  const groups = new ImportGroups(deps.groups, ctx)
  const writer = new ImportWriter(deps, ctx, deps.config.userImportBatchSize)
  const invalid: RowError[] = []
  let row = 0
  // A malformed record leaves the rest of the file unreadable: the rows before it are imported,
  // it is reported, and nothing after it is.
  let broken = false
  /** Numbers the skips that came before the `delivered`-th record (all of them with Infinity). */
  const numberSkips = (delivered: number) => {
    while (!broken && skips[0] !== undefined && skips[0].records < delivered) {
      const skip = skips.shift()!
      row += 1
      if (skip.code === INCONSISTENT_COLUMNS) {
        invalid.push({ row, error: skipping(`expected ${header?.length ?? 0} columns, found ${skip.cells ?? 0}`) })
      } else {
        broken = true
        invalid.push({ row, error: skipping(`malformed CSV (${skip.code}), the rest of the file was not imported`) })
      }
    }
  }
  try {
    let delivered = 0
    for await (const record of parser as AsyncIterable<Record<string, string | undefined>>) {
      if (headerError) throw headerError
      delivered += 1
      numberSkips(delivered)
      if (broken || writer.failed) break
      row += 1
      const prepared = await prepareRow(record, row, groups)
      if ('error' in prepared) invalid.push(prepared)
      else await writer.add(prepared)
    }
    if (headerError) throw headerError
    // No record at all, not even a header: empty lines and a byte order mark are skipped.
    if (!header) throw badRequest('The CSV file is empty: send a header row naming userGroup and the other columns, then a row per user', 'UMS_INVALID_CSV')
    if (!writer.failed) numberSkips(Infinity)
    const outcome = await writer.finish()
    invalid.push(...outcome.invalid)
    invalid.sort((a, b) => a.row - b.row)
    const counts = { inserted: outcome.inserted.length, updated: outcome.updated.length, invalid: invalid.length }
    ctx.log.info(counts, 'CSV import done')
    countImportRows(counts)
    return { updated: outcome.updated, inserted: outcome.inserted, invalid }
  } catch (error) {
    if (isCsvError(error)) throw badRequest(`The file is not valid CSV (${error.code})`, 'UMS_INVALID_CSV')
    throw error
  } finally {
    parser.destroy()
    await writer.settle()
  }
}

function isCsvError(error: unknown): error is { code: string } {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && code.startsWith('CSV_')
}
