// Go `json.Decoder` emulation, for the Rönd emulator: decode the first JSON value only (trailing
// bytes are ignored), report syntax errors with Go's wording, then bind the value to a Go struct of
// string / []string fields (case-insensitive keys, unknown keys ignored, type mismatches reported).

/** Go's `encoding/json` nesting limit. */
const MAX_NESTING_DEPTH = 10000

/** Marks a body that Go's decoder would reject; kept as the parsed body so the request log shows it. */
export class GoDecodeFailure {
  constructor(readonly message: string) {}
}

class SyntaxFailure extends Error {}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
const isDigit = (c: number) => c >= 0x30 && c <= 0x39
const isHex = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)

/** Go's `quoteChar`: the offending byte as Go's strconv.Quote renders it, in single quotes. */
function quoteByte(c: number): string {
  if (c === 0x27) return `'\\''`
  if (c === 0x22) return `'"'`
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 0x5c: '\\\\' }
  const known = named[c]
  if (known) return `'${known}'`
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, '0')}'`
  // Go turns the lone byte into the rune U+00XX; the non-printable ones are escaped.
  if ((c >= 0x80 && c <= 0xa0) || c === 0xad) return `'\\u00${c.toString(16)}'`
  return `'${String.fromCharCode(c)}'`
}

/** Returns the end offset of the first JSON value in `b`, or throws a SyntaxFailure with Go's message. */
function scanFirstValue(b: Uint8Array, start: number): number {
  const n = b.length
  let i = start
  const stack: Array<'object' | 'array'> = []
  const invalid = (context: string): never => {
    throw new SyntaxFailure(`invalid character ${quoteByte(b[i] ?? 0)} ${context}`)
  }
  const next = (): number => {
    const c = b[i]
    if (c === undefined) throw new SyntaxFailure('unexpected EOF')
    return c
  }
  const skipSpace = () => {
    while (i < n && isSpace(b[i] ?? 0)) i++
  }
  const push = (kind: 'object' | 'array') => {
    stack.push(kind)
    if (stack.length > MAX_NESTING_DEPTH) invalid('exceeded max depth')
    i++
  }
  const digits = () => {
    while (i < n && isDigit(b[i] ?? 0)) i++
  }
  const scanString = () => {
    i++
    for (;;) {
      const c = next()
      if (c === 0x22) {
        i++
        return
      }
      if (c < 0x20) invalid('in string literal')
      if (c === 0x5c) {
        i++
        const e = next()
        if (e === 0x75) {
          for (let k = 0; k < 4; k++) {
            i++
            if (!isHex(next())) invalid('in \\u hexadecimal character escape')
          }
        } else if (!'"\\/bfnrt'.includes(String.fromCharCode(e))) {
          invalid('in string escape code')
        }
      }
      i++
    }
  }
  // A number may end at the end of input only at top level; elsewhere the container is unfinished.
  const scanNumber = () => {
    if (next() === 0x2d) {
      i++
      if (!isDigit(next())) invalid('in numeric literal')
    }
    if (next() === 0x30) i++
    else digits()
    if (b[i] === 0x2e) {
      i++
      if (!isDigit(next())) invalid('after decimal point in numeric literal')
      digits()
    }
    if (b[i] === 0x65 || b[i] === 0x45) {
      i++
      if (next() === 0x2b || next() === 0x2d) i++
      if (!isDigit(next())) invalid('in exponent of numeric literal')
      digits()
    }
  }
  const scanLiteral = (word: string) => {
    i++
    for (const expected of word.slice(1)) {
      if (next() !== expected.charCodeAt(0)) invalid(`in literal ${word} (expecting '${expected}')`)
      i++
    }
  }
  const scanKey = () => {
    skipSpace()
    if (next() !== 0x22) invalid('looking for beginning of object key string')
    scanString()
    skipSpace()
    if (next() !== 0x3a) invalid('after object key')
    i++
  }

  let arrayMayClose = false
  for (;;) {
    // Expecting a value.
    skipSpace()
    const c = next()
    let complete = true
    if (arrayMayClose && c === 0x5d) {
      stack.pop()
      i++
    } else if (c === 0x7b) {
      push('object')
      skipSpace()
      if (next() === 0x7d) {
        stack.pop()
        i++
      } else {
        scanKey()
        complete = false
      }
    } else if (c === 0x5b) {
      push('array')
      complete = false
    } else if (c === 0x22) scanString()
    else if (c === 0x2d || isDigit(c)) scanNumber()
    else if (c === 0x74) scanLiteral('true')
    else if (c === 0x66) scanLiteral('false')
    else if (c === 0x6e) scanLiteral('null')
    else invalid('looking for beginning of value')
    arrayMayClose = !complete && stack[stack.length - 1] === 'array'
    if (!complete) continue
    // A value is complete: close containers until one expects another element.
    for (;;) {
      // Go's decoder stops right after the first top-level value.
      if (stack.length === 0) return i
      skipSpace()
      const p = next()
      const top = stack[stack.length - 1]
      if (p === 0x2c) {
        i++
        if (top === 'object') scanKey()
        break
      }
      if ((top === 'object' && p === 0x7d) || (top === 'array' && p === 0x5d)) {
        stack.pop()
        i++
        continue
      }
      invalid(top === 'object' ? 'after object key:value pair' : 'after array element')
    }
  }
}

export type GoKind = 'string' | '[]string'
export type Bound = Record<string, string | string[] | undefined>

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'object') return 'object'
  return typeof value === 'boolean' ? 'bool' : typeof value
}

/** Decodes the first JSON value of `raw` as Go's decoder does, or returns the decoder's error. */
export function decodeFirstValue(raw: Uint8Array): { value: unknown } | GoDecodeFailure {
  let start = 0
  while (start < raw.length && isSpace(raw[start] ?? 0)) start++
  if (start === raw.length) return new GoDecodeFailure('EOF')
  try {
    const end = scanFirstValue(raw, start)
    return { value: JSON.parse(new TextDecoder().decode(raw.subarray(start, end))) as unknown }
  } catch (error) {
    if (error instanceof SyntaxFailure) return new GoDecodeFailure(error.message)
    throw error
  }
}

/** Binds a decoded value to a Go struct of string / []string fields, with Go's type errors. */
export function bindStruct(value: unknown, structName: string, fields: Record<string, GoKind>): Bound | GoDecodeFailure {
  const bound: Bound = {}
  if (value === null) return bound
  if (typeof value !== 'object' || Array.isArray(value)) {
    return new GoDecodeFailure(`json: cannot unmarshal ${jsonKind(value)} into Go value of type service.${structName}`)
  }
  // Go keeps decoding after a type mismatch and reports the first one.
  let firstError: string | undefined
  const mismatch = (kind: string, field: string, type: string) => {
    firstError ??= `json: cannot unmarshal ${kind} into Go struct field ${structName}.${field} of type ${type}`
  }
  for (const [key, item] of Object.entries(value)) {
    const field = Object.keys(fields).find((name) => name.toLowerCase() === key.toLowerCase())
    if (field === undefined) continue
    if (fields[field] === 'string') {
      if (typeof item === 'string') bound[field] = item
      else if (item !== null) mismatch(jsonKind(item), field, 'string')
    } else if (item === null) {
      bound[field] = undefined
    } else if (Array.isArray(item)) {
      bound[field] = item.map((element: unknown) => {
        if (typeof element === 'string') return element
        if (element !== null) mismatch(jsonKind(element), field, 'string')
        return ''
      })
    } else {
      mismatch(jsonKind(item), field, '[]string')
    }
  }
  return firstError === undefined ? bound : new GoDecodeFailure(firstError)
}
