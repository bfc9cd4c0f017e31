import { describe, expect, it } from 'vitest'
import { typeCell, typeRecord } from '../../src/services/import-csv/typing.js'
import { schemaProblem } from '../../src/services/import-csv/rows.js'
import { sameValue, storedAs } from '../../src/services/users/read-back.js'
import { importOptions } from '../../src/services/import-csv/index.js'
import { HttpError } from '../../src/errors/index.js'

const PROPERTIES = {
  name: { type: 'string' },
  code: { type: 'string' },
  age: { type: 'number' },
  children: { type: 'integer' },
  blocked: { type: 'boolean' },
  roles: { type: 'array', items: { type: 'string' } },
  scores: { type: 'array', items: { type: 'number' } },
  flags: { type: 'array', items: { type: 'boolean' } },
  expirationDate: { type: 'string', format: 'date-time' },
  address: { type: 'object' },
  nickname: { type: ['string', 'null'] },
  weight: { type: ['number', 'null'] },
  anything: {},
}

describe('typeCell', () => {
  it('types numbers and integers, keeping text that is not a number', () => {
    expect(typeCell('30', PROPERTIES.age)).toBe(30)
    expect(typeCell(' -2.5 ', PROPERTIES.age)).toBe(-2.5)
    expect(typeCell('1e3', PROPERTIES.age)).toBe(1000)
    expect(typeCell('.5', PROPERTIES.age)).toBe(0.5)
    expect(typeCell('3', PROPERTIES.children)).toBe(3)
    expect(typeCell('3.5', PROPERTIES.children)).toBe(3.5)
    expect(typeCell('abc', PROPERTIES.age)).toBe('abc')
    expect(typeCell('12abc', PROPERTIES.age)).toBe('12abc')
    expect(typeCell('0x10', PROPERTIES.age)).toBe('0x10')
    expect(typeCell('Infinity', PROPERTIES.age)).toBe('Infinity')
  })

  it('types booleans case-insensitively and nothing else', () => {
    expect(typeCell('true', PROPERTIES.blocked)).toBe(true)
    expect(typeCell('FALSE', PROPERTIES.blocked)).toBe(false)
    expect(typeCell(' True ', PROPERTIES.blocked)).toBe(true)
    expect(typeCell('yes', PROPERTIES.blocked)).toBe('yes')
    expect(typeCell('1', PROPERTIES.blocked)).toBe('1')
  })

  it('types [a, b] arrays with trimmed items typed by items', () => {
    expect(typeCell('[admin, editor ,  viewer]', PROPERTIES.roles)).toEqual(['admin', 'editor', 'viewer'])
    expect(typeCell('[1, 2.5, x]', PROPERTIES.scores)).toEqual([1, 2.5, 'x'])
    expect(typeCell('[true,false]', PROPERTIES.flags)).toEqual([true, false])
    expect(typeCell('[]', PROPERTIES.roles)).toEqual([])
    expect(typeCell(' [ ] ', PROPERTIES.roles)).toEqual([])
    expect(typeCell('[solo]', PROPERTIES.roles)).toEqual(['solo'])
    // Without brackets it is not an array: the validation reports `roles must be array`.
    expect(typeCell('admin', PROPERTIES.roles)).toBe('admin')
    expect(typeCell('[unclosed', PROPERTIES.roles)).toBe('[unclosed')
  })

  it('keeps strings as they are, numbers-looking ones included, and trims date-time text', () => {
    expect(typeCell('007', PROPERTIES.code)).toBe('007')
    expect(typeCell(' Anna ', PROPERTIES.name)).toBe(' Anna ')
    expect(typeCell('[a, b]', PROPERTIES.name)).toBe('[a, b]')
    expect(typeCell(' 2030-01-01T00:00:00Z ', PROPERTIES.expirationDate)).toBe('2030-01-01T00:00:00Z')
    expect(typeCell('42', PROPERTIES.nickname)).toBe('42')
    expect(typeCell('42', PROPERTIES.anything)).toBe('42')
  })

  it('parses JSON objects for object fields and null for nullable non-string fields', () => {
    expect(typeCell('{"city":"Milano"}', PROPERTIES.address)).toEqual({ city: 'Milano' })
    expect(typeCell('{broken', PROPERTIES.address)).toBe('{broken')
    expect(typeCell('null', PROPERTIES.weight)).toBeNull()
    expect(typeCell('71.5', PROPERTIES.weight)).toBe(71.5)
  })
})

describe('typeRecord', () => {
  it('leaves empty cells out and keeps undeclared columns as text', () => {
    const user = typeRecord(
      { userGroup: 'customer', name: 'Anna', age: '', blocked: 'true', roles: '[a, b]', extra: '5', children: undefined },
      PROPERTIES,
    )
    expect(user).toEqual({ userGroup: 'customer', name: 'Anna', blocked: true, roles: ['a', 'b'], extra: '5' })
    expect('age' in user).toBe(false)
  })

  it('does not take inherited names for schema fields', () => {
    expect(typeRecord({ constructor: '5', toString: 'x' }, PROPERTIES)).toEqual({ constructor: '5', toString: 'x' })
  })
})

describe('schemaProblem', () => {
  it('words group validation messages without the body prefix', () => {
    expect(schemaProblem("body must have required property 'surname'")).toBe('missing required field surname')
    expect(schemaProblem("body.address must have required property 'city'")).toBe('missing required field address.city')
    expect(schemaProblem('body.age must be number')).toBe('age must be number')
    expect(schemaProblem('body.roles.0 must be string')).toBe('roles.0 must be string')
    expect(schemaProblem('body must NOT have additional properties (property "nickname")')).toBe(
      'must NOT have additional properties (property "nickname")',
    )
  })
})

describe('importOptions', () => {
  const badRequest = (fields: Record<string, string>) => {
    try {
      importOptions(fields)
    } catch (error) {
      expect(error).toBeInstanceOf(HttpError)
      return (error as HttpError).statusCode
    }
    return undefined
  }

  it('defaults to comma, utf8 and a double-quote escape', () => {
    expect(importOptions({})).toEqual({ delimiter: ',', encoding: 'utf8', escape: '"' })
  })

  it('accepts one-character delimiters, text encodings and escape null', () => {
    expect(importOptions({ delimiter: ';', encoding: 'latin1', escape: 'null' })).toEqual({ delimiter: ';', encoding: 'latin1', escape: null })
    expect(importOptions({ delimiter: '\t', escape: '\\' })).toEqual({ delimiter: '\t', encoding: 'utf8', escape: '\\' })
    expect(importOptions({ delimiter: '€', encoding: 'utf16le' }).delimiter).toBe('€')
    // As curl's -F 'delimiter=";"' means it, for clients that send the quotes.
    expect(importOptions({ delimiter: '";"', escape: '"\\"' })).toEqual({ delimiter: ';', encoding: 'utf8', escape: '\\' })
  })

  it('refuses unknown or binary encodings, long or reserved delimiters, bad escapes', () => {
    expect(badRequest({ encoding: 'klingon' })).toBe(400)
    expect(badRequest({ encoding: 'base64' })).toBe(400)
    expect(badRequest({ encoding: 'hex' })).toBe(400)
    expect(badRequest({ delimiter: ';;' })).toBe(400)
    expect(badRequest({ delimiter: '' })).toBe(400)
    expect(badRequest({ delimiter: '"' })).toBe(400)
    expect(badRequest({ delimiter: '\n' })).toBe(400)
    expect(badRequest({ escape: 'ab' })).toBe(400)
    expect(badRequest({ delimiter: ';', escape: ';' })).toBe(400)
  })
})

describe('sameValue / storedAs (finding the rows a refused bulk insert wrote)', () => {
  it('compares dates by instant, scalars the CRUD may coerce by text, arrays item by item', () => {
    expect(sameValue('2030-01-01T00:00:00Z', '2030-01-01T00:00:00.000Z')).toBe(true)
    expect(sameValue('2030-01-01T00:00:00+01:00', '2029-12-31T23:00:00.000Z')).toBe(true)
    expect(sameValue('2030-01-01T00:00:00Z', '2030-01-02T00:00:00.000Z')).toBe(false)
    expect(sameValue(5, '5')).toBe(true)
    expect(sameValue(['a', 'b'], ['a', 'b'])).toBe(true)
    expect(sameValue(['a', 'b'], ['b', 'a'])).toBe(false)
    expect(sameValue(['a'], ['a', 'b'])).toBe(false)
    expect(sameValue({ city: 'Milano' }, { city: 'Milano', zip: '20100' })).toBe(true)
    expect(sameValue('x', undefined)).toBe(false)
  })

  it('ignores __STATE__ and fields the document has beyond the row', () => {
    const row = { userGroup: 'customer', name: 'Anna', age: 30, __STATE__: 'PUBLIC' }
    expect(storedAs(row, { _id: '1', userGroup: 'customer', name: 'Anna', age: 30, createdAt: 'x' })).toBe(true)
    expect(storedAs(row, { _id: '1', userGroup: 'customer', name: 'Anna', age: 31 })).toBe(false)
    expect(storedAs(row, { _id: '1', userGroup: 'customer', name: 'Anna' })).toBe(false)
  })
})
