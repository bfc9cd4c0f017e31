// Users files of the bulk activation: entries, byte-exact splitting at the 500 KB limit.
import { describe, expect, it } from 'vitest'
import { IMPORT_FILE_MAX_BYTES } from '../../src/auth-providers/auth0-contract.js'
import { generateAuthId, serializedBytes, splitIntoFiles, toImportUser } from '../../src/services/bulk-activation/files.js'

const entry = (index: number, size = 0) => ({ user_id: generateAuthId(), email: `user-${index}@example.com`, email_verified: false, username: 'u'.repeat(size) })

describe('generateAuthId', () => {
  it('gives 24 random lowercase hex characters', () => {
    const ids = Array.from({ length: 200 }, generateAuthId)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{24}$/)
    expect(new Set(ids).size).toBe(200)
  })
})

describe('toImportUser', () => {
  const id = 'a'.repeat(24)

  it('carries email, username and email_verified false; blocked only when the CRUD user has it', () => {
    expect(toImportUser({ _id: 'x', email: 'a@b.it', username: 'mario', __STATE__: 'PUBLIC' }, id)).toEqual({ user_id: id, email: 'a@b.it', username: 'mario', email_verified: false })
    expect(toImportUser({ _id: 'x', email: 'a@b.it', username: '', blocked: false, __STATE__: 'PUBLIC' }, id)).toEqual({ user_id: id, email: 'a@b.it', email_verified: false, blocked: false })
    expect(toImportUser({ _id: 'x', email: 'a@b.it', blocked: true }, id)).toMatchObject({ blocked: true })
    expect(toImportUser({ _id: 'x', email: 'a@b.it', groups: ['customers', 7] }, id)).toMatchObject({ app_metadata: { groups: ['customers'] } })
  })

  it('blocks users outside PUBLIC whatever their flag says', () => {
    for (const state of ['DRAFT', 'TRASH', 'DELETED']) {
      expect(toImportUser({ _id: 'x', email: 'a@b.it', blocked: false, __STATE__: state }, id)).toMatchObject({ blocked: true })
    }
  })
})

describe('splitIntoFiles', () => {
  it('keeps everything in one file when it fits, in order', () => {
    const entries = Array.from({ length: 50 }, (_unused, index) => entry(index))
    const { files, tooLarge } = splitIntoFiles(entries)
    expect(files).toEqual([entries])
    expect(tooLarge).toEqual([])
  })

  it('fills each file as far as the limit allows and never beyond it', () => {
    const entries = Array.from({ length: 130 }, (_unused, index) => entry(index, 9000 + (index % 7) * 100))
    const { files } = splitIntoFiles(entries)
    expect(files.length).toBe(3)
    expect(files.flat()).toEqual(entries)
    for (const [index, file] of files.entries()) {
      expect(serializedBytes(file)).toBeLessThanOrEqual(IMPORT_FILE_MAX_BYTES)
      // Greedy: the next entry would not have fitted.
      const next = files[index + 1]?.[0]
      if (next) expect(serializedBytes([...file, next])).toBeGreaterThan(IMPORT_FILE_MAX_BYTES)
    }
  })

  it('measures bytes, not characters', () => {
    const wide = Array.from({ length: 4 }, (_unused, index) => ({ ...entry(index), username: 'è'.repeat(100) }))
    const limit = serializedBytes(wide.slice(0, 2))
    const { files } = splitIntoFiles(wide, limit)
    expect(files.map((file) => file.length)).toEqual([2, 2])
    for (const file of files) expect(serializedBytes(file)).toBeLessThanOrEqual(limit)
    expect(splitIntoFiles(wide, limit - 1).files.map((file) => file.length)).toEqual([1, 1, 1, 1])
  })

  it('sets apart an entry that alone exceeds the limit', () => {
    const small = entry(1)
    const huge = entry(2, IMPORT_FILE_MAX_BYTES)
    const { files, tooLarge } = splitIntoFiles([small, huge, small])
    expect(tooLarge).toEqual([huge])
    expect(files).toEqual([[small, small]])
  })

  it('accepts a file of exactly the limit', () => {
    const entries = [entry(1), entry(2)]
    expect(splitIntoFiles(entries, serializedBytes(entries)).files).toEqual([entries])
    expect(splitIntoFiles([], 10)).toEqual({ files: [], tooLarge: [] })
  })
})
