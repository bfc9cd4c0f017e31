// PATCH /users/import against the emulators: inserts and patches from one CSV, cell typing,
// row errors with their numbers, options and their errors, duplicates refused by the CRUD.
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { useStack } from '../helpers/stack.js'
import { csvOf, uploadCsv } from '../helpers/upload.js'

/** The 200 body, or an error body (`message`). */
interface ImportAnswer {
  updated: string[]
  inserted: string[]
  invalid: Array<{ row: number; error: string }>
  message?: string
}

const HEADER = ['userGroup', 'name', 'surname', 'email', 'age', 'blocked', 'tags', 'expirationDate']

describe('PATCH /users/import', () => {
  const stack = useStack()
  const upload = (csv: string | Buffer, options?: Parameters<typeof uploadCsv>[2]) => uploadCsv<ImportAnswer>(stack.current.url, csv, options)
  const users = () => stack.current.crud.documents(USERS_ENDPOINT)
  const byId = (id: string) => users().find((user) => user._id === id)

  it('inserts rows without _id and patches rows with _id, typing cells with the group schema', async () => {
    const [existing] = stack.current.crud.seed(USERS_ENDPOINT, [
      { userGroup: 'customer', name: 'Old', surname: 'Name', email: 'old@example.com', age: 20, tags: ['a'] },
    ])
    const csv = csvOf(
      [
        ['_id', ...HEADER],
        ['', 'customer', 'Anna', 'Bianchi', 'anna@example.com', '31', 'true', '[vip, early ,  beta]', '2030-01-01T00:00:00Z'],
        [existing!, 'customer', 'New', 'Name', 'new@example.com', '42.5', 'FALSE', '[]', ''],
        ['', 'customer', 'Bruno', 'Neri', '', '', '', '[x]', ''],
      ],
      ';',
    )
    const answer = await upload(csv, { fields: { delimiter: ';' } })
    expect(answer.status).toBe(200)
    expect(answer.body.invalid).toEqual([])
    expect(answer.body.updated).toEqual([existing])
    expect(answer.body.inserted).toHaveLength(2)

    const [anna, bruno] = answer.body.inserted.map((id) => byId(id)!)
    expect(anna).toMatchObject({
      userGroup: 'customer', name: 'Anna', surname: 'Bianchi', email: 'anna@example.com', age: 31, blocked: true,
      tags: ['vip', 'early', 'beta'], expirationDate: '2030-01-01T00:00:00.000Z', __STATE__: 'PUBLIC',
    })
    // Empty cells are absent fields, not empty strings.
    expect(bruno).toMatchObject({ userGroup: 'customer', name: 'Bruno', surname: 'Neri', tags: ['x'], __STATE__: 'PUBLIC' })
    for (const field of ['email', 'age', 'blocked', 'expirationDate']) expect(bruno).not.toHaveProperty(field)

    expect(byId(existing!)).toMatchObject({ name: 'New', email: 'new@example.com', age: 42.5, blocked: false, tags: [] })
    expect(users()).toHaveLength(3)
  })

  it('patches users in any state, with $set of the row fields only', async () => {
    const [trashed] = stack.current.crud.seed(USERS_ENDPOINT, [
      { userGroup: 'customer', name: 'T', surname: 'Rash', age: 50, tags: ['keep'], __STATE__: 'TRASH' },
    ])
    const answer = await upload(csvOf([['_id', 'userGroup', 'name', 'surname', 'age'], [trashed!, 'customer', 'T2', 'Rash', '51']]))
    expect(answer.body).toEqual({ updated: [trashed], inserted: [], invalid: [] })
    expect(byId(trashed!)).toMatchObject({ name: 'T2', age: 51, tags: ['keep'], __STATE__: 'TRASH' })
    const patch = stack.current.crud.requestsTo('PATCH', `${USERS_ENDPOINT}/bulk`)[0]!.body
    expect(patch).toEqual([
      { filter: { _id: trashed, _st: 'PUBLIC,DRAFT,TRASH,DELETED' }, update: { $set: { userGroup: 'customer', name: 'T2', surname: 'Rash', age: 51 } } },
    ])
  })

  it('reports invalid rows with their number (1 = first data row) and a message free of cell values', async () => {
    const csv = csvOf([
      ['userGroup', 'name', 'surname', 'age', 'email', 'tags', 'authUserId'],
      ['customer', 'Ok', 'One', '1', '', '', ''], // 1
      ['customer', 'Zelda', '', '', '', '', ''], // 2: surname missing
      ['customer', 'Mario', 'Verdi', 'seventy', '', '', ''], // 3: age not a number
      ['', 'Luigi', 'Verdi', '', '', '', ''], // 4: no userGroup
      ['ghosts', 'Casper', 'Ghost', '', '', '', ''], // 5: unknown group
      ['customer', 'Peach', 'Toad', '', 'peach-at-example', '', ''], // 6: email format
      ['customer', 'Wario', 'Bad', '', '', 'wario-tag', ''], // 7: tags not an array
      ['customer', 'Yoshi', 'Green', '', '', '', 'auth0|abc'], // 8: authUserId
      ['customer', 'Ok', 'Two', '-0', '', '', ''], // 9
    ])
    const answer = await upload(csv)
    expect(answer.status).toBe(200)
    expect(answer.body.invalid).toEqual([
      { row: 2, error: 'Skipping record: invalid json schema, missing required field surname' },
      { row: 3, error: 'Skipping record: invalid json schema, age must be number' },
      { row: 4, error: 'Skipping record: userGroup missing on csv record' },
      { row: 5, error: 'Skipping record: unknown userGroup' },
      { row: 6, error: 'Skipping record: invalid json schema, email must match format "email"' },
      { row: 7, error: 'Skipping record: invalid json schema, tags must be array' },
      { row: 8, error: 'Skipping record: authUserId cannot be set' },
    ])
    expect(answer.body.inserted).toHaveLength(2)
    expect(users().map((user) => user.surname).sort()).toEqual(['One', 'Two'])
    for (const value of ['Zelda', 'seventy', 'Luigi', 'ghosts', 'Casper', 'peach-at-example', 'wario-tag', 'auth0|abc']) {
      expect(answer.text).not.toContain(value)
    }
    // The unknown group was asked for once, not once per row.
    expect(stack.current.crud.requestsTo('GET', '/ums-config/').length).toBeLessThanOrEqual(2)
  })

  it('refuses __STATE__ and expirationId cells, and reports rows with a wrong number of cells', async () => {
    const csv = csvOf([
      ['userGroup', 'name', 'surname', '__STATE__', 'expirationId'],
      ['customer', 'A', 'B', 'DRAFT', ''],
      ['customer', 'C', 'D', '', 'exp-1'],
      ['customer', 'E', 'F'],
      ['customer', 'G', 'H', '', '', 'extra'],
      ['customer', 'I', 'J', '', ''],
    ])
    const answer = await upload(csv)
    expect(answer.body.invalid).toEqual([
      { row: 1, error: 'Skipping record: __STATE__ cannot be set' },
      { row: 2, error: 'Skipping record: expirationId cannot be set' },
      { row: 3, error: 'Skipping record: expected 5 columns, found 3' },
      { row: 4, error: 'Skipping record: expected 5 columns, found 6' },
    ])
    expect(answer.body.inserted).toHaveLength(1)
    expect(users()).toMatchObject([{ name: 'I', __STATE__: 'PUBLIC' }])
  })

  it('reports the malformed record and imports nothing after it', async () => {
    const csv = 'userGroup,name,surname\ncustomer,"Quoted, Name",One\ncustomer,"Broken"quote,Two\ncustomer,After,Three\n'
    const answer = await upload(csv)
    expect(answer.status).toBe(200)
    expect(answer.body.invalid).toEqual([
      { row: 2, error: 'Skipping record: malformed CSV (CSV_INVALID_CLOSING_QUOTE), the rest of the file was not imported' },
    ])
    expect(users().map((user) => user.name)).toEqual(['Quoted, Name'])
  })

  it('handles the semicolon delimiter with array cells, and fields sent before the file', async () => {
    const csv = csvOf([['userGroup', 'name', 'surname', 'roles', 'tags'], ['customer', 'Anna', 'Rossi', '[customer-basic, customer-premium]', '[a,b]']], ';')
    const answer = await upload(csv, { fields: { delimiter: ';' }, fieldsFirst: true })
    expect(answer.status).toBe(200)
    expect(byId(answer.body.inserted[0]!)).toMatchObject({ roles: ['customer-basic', 'customer-premium'], tags: ['a', 'b'] })
  })

  it('honours escape: the default doubled quote, a custom character, and null (no escape at all)', async () => {
    const header = 'userGroup,name,surname\n'
    const doubled = await upload(`${header}customer,"O""Brien",A\n`)
    expect(byId(doubled.body.inserted[0]!)?.name).toBe('O"Brien')

    const backslash = await upload(`${header}customer,"O\\"Brien",B\n`, { fields: { escape: '\\' } })
    expect(byId(backslash.body.inserted[0]!)?.name).toBe('O"Brien')

    // Without an escape character a backslash is plain text, and a quote inside quotes ends the cell.
    const none = await upload(`${header}customer,"C:\\dir",C\ncustomer,"O""Brien",D\n`, { fields: { escape: 'null' } })
    expect(none.body.inserted).toHaveLength(1)
    expect(byId(none.body.inserted[0]!)?.name).toBe('C:\\dir')
    expect(none.body.invalid).toEqual([{ row: 2, error: expect.stringMatching(/^Skipping record: malformed CSV/) }])
  })

  it('decodes the file with the given encoding (latin1)', async () => {
    const csv = Buffer.from('userGroup;name;surname\ncustomer;José;Müller\n', 'latin1')
    const answer = await upload(csv, { fields: { delimiter: ';', encoding: 'latin1' } })
    expect(answer.status).toBe(200)
    expect(byId(answer.body.inserted[0]!)).toMatchObject({ name: 'José', surname: 'Müller' })
  })

  it('skips a UTF-8 byte order mark and empty lines, with CRLF line ends too', async () => {
    const answer = await upload(Buffer.from('\uFEFFuserGroup,name,surname\r\n\r\ncustomer,A,B\r\n\r\ncustomer,C,D\r\n', 'utf8'))
    expect(answer.body).toMatchObject({ invalid: [], inserted: [expect.any(String), expect.any(String)] })
    expect(users().map((user) => [user.name, user.surname])).toEqual([['A', 'B'], ['C', 'D']])
  })

  it('answers 400 when the header has no userGroup column, writing nothing', async () => {
    const answer = await upload(csvOf([['name', 'surname'], ['A', 'B']]))
    expect(answer.status).toBe(400)
    expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'The CSV header has no userGroup column', code: 'UMS_INVALID_CSV' })
    // A file whose delimiter is not the one given has a single column named after the whole header.
    expect((await upload(csvOf([['userGroup', 'name'], ['customer', 'A']], ';'))).status).toBe(400)
    expect(users()).toEqual([])
    expect(stack.current.crud.requestsTo('POST', `${USERS_ENDPOINT}/bulk`)).toEqual([])
  })

  it.each([
    ['no byte', ''],
    ['only empty lines and a byte order mark', '\uFEFF\r\n\r\n'],
  ])('answers 400 saying that the file is empty when it has %s, writing nothing', async (_case, csv) => {
    const answer = await upload(Buffer.from(csv, 'utf8'))
    expect(answer.status).toBe(400)
    expect(answer.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'The CSV file is empty: send a header row naming userGroup and the other columns, then a row per user',
      code: 'UMS_INVALID_CSV',
    })
    expect(stack.current.crud.requests).toEqual([])
  })

  it('answers 400 for a header naming a column twice', async () => {
    const answer = await upload(csvOf([['userGroup', 'name', 'name'], ['customer', 'A', 'B']]))
    expect(answer.status).toBe(400)
    expect(answer.body.message).toBe('The CSV header names the column name twice')
  })

  it('answers 400 without a file part, with an unknown encoding, a bad delimiter or escape', async () => {
    const csv = csvOf([['userGroup', 'name', 'surname'], ['customer', 'A', 'B']])
    const noFile = await upload(csv, { fileField: null, fields: { delimiter: ';' } })
    expect(noFile.status).toBe(400)
    expect(noFile.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'file is required: send the CSV as a multipart file part named file', code: 'UMS_MISSING_FILE' })
    expect((await upload(csv, { fileField: 'csv' })).status).toBe(400)

    const encoding = await upload(csv, { fields: { encoding: 'klingon' } })
    expect(encoding.status).toBe(400)
    expect(encoding.body.message).toContain('Unknown encoding')
    const delimiter = await upload(csv, { fields: { delimiter: ';;' } })
    expect(delimiter.status).toBe(400)
    expect(delimiter.body.message).toBe('delimiter must be one character other than a double quote or a line break')
    const empty = await upload(csv, { fields: { delimiter: '' } })
    expect(empty.status).toBe(400)
    expect(empty.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'delimiter is empty: send one character other than a double quote or a line break',
      code: 'UMS_INVALID_IMPORT_OPTION',
    })
    const emptyEscape = await upload(csv, { fields: { escape: '' } })
    expect(emptyEscape.body).toMatchObject({ message: 'escape is empty: send one character (not the delimiter nor a line break) or null', code: 'UMS_INVALID_IMPORT_OPTION' })
    expect((await upload(csv, { fields: { escape: 'xx' } })).status).toBe(400)
    expect(users()).toEqual([])
  })

  it('answers 415 to a request that is not multipart', async () => {
    const answer = await stack.call('PATCH', '/users/import', { json: { file: 'userGroup\ncustomer\n' } })
    expect(answer.status).toBe(415)
  })

  it('reports only the row the CRUD refuses as a duplicate; the others are inserted exactly once', async () => {
    stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'Taken', surname: 'Already', email: 'taken@example.com' }])
    const csv = csvOf([
      ['userGroup', 'name', 'surname', 'email'],
      ['customer', 'NoEmail1', 'S', ''], // 1 — no unique field: a second insert would duplicate it silently
      ['customer', 'First', 'S', 'first@example.com'], // 2
      ['customer', 'NoEmail1', 'S', ''], // 3 — same content as row 1, a distinct user
      ['customer', 'Clash', 'S', 'taken@example.com'], // 4 — refused: email already stored
      ['customer', 'NoEmail2', 'S', ''], // 5
      ['customer', 'Again', 'S', 'first@example.com'], // 6 — refused: same email as row 2
      ['customer', 'Last', 'S', 'last@example.com'], // 7
    ])
    const answer = await upload(csv)
    expect(answer.status).toBe(200)
    expect(answer.body.invalid).toEqual([
      { row: 4, error: 'Skipping record: email already exists' },
      { row: 6, error: 'Skipping record: email already exists' },
    ])
    expect(answer.text).not.toContain('taken@example.com')
    expect(answer.body.inserted).toHaveLength(5)
    expect(new Set(answer.body.inserted).size).toBe(5)
    const names = users().map((user) => user.name)
    expect(names.sort()).toEqual(['First', 'Last', 'NoEmail1', 'NoEmail1', 'NoEmail2', 'Taken'])
    // The ids answered are those of the rows, in file order.
    expect(answer.body.inserted.map((id) => byId(id)?.name)).toEqual(['NoEmail1', 'First', 'NoEmail1', 'NoEmail2', 'Last'])
  })

  it('retries a batch the CRUD refuses with 400 row by row: only the refused row is reported', async () => {
    // `nickname` passes the customer schema (it allows more properties) but not the CRUD collection.
    const csv = csvOf([
      ['userGroup', 'name', 'surname', 'nickname'],
      ['customer', 'A', 'S', ''],
      ['customer', 'B', 'S', 'bee'],
      ['customer', 'C', 'S', ''],
    ])
    const answer = await upload(csv)
    expect(answer.status).toBe(200)
    expect(answer.body.invalid).toEqual([{ row: 2, error: expect.stringMatching(/^Skipping record: refused by the CRUD Service, .*nickname/) }])
    expect(answer.text).not.toContain('bee')
    expect(users().map((user) => user.name)).toEqual(['A', 'C'])
  })

  it('reports patch rows whose _id matches no user, and duplicates refused on update', async () => {
    const [first, second] = stack.current.crud.seed(USERS_ENDPOINT, [
      { userGroup: 'customer', name: 'One', surname: 'S', email: 'one@example.com' },
      { userGroup: 'customer', name: 'Two', surname: 'S', email: 'two@example.com' },
    ])
    const csv = csvOf([
      ['_id', 'userGroup', 'name', 'surname', 'email'],
      [first!, 'customer', 'One+', 'S', ''],
      ['0123456789abcdef01234567', 'customer', 'Nobody', 'S', ''],
      [second!, 'customer', 'Two+', 'S', 'one@example.com'],
    ])
    const answer = await upload(csv)
    expect(answer.status).toBe(200)
    expect(answer.body.updated).toEqual([first])
    expect(answer.body.invalid).toEqual([
      { row: 2, error: 'Skipping record: no user with this _id' },
      { row: 3, error: 'Skipping record: email already exists' },
    ])
    expect(byId(first!)).toMatchObject({ name: 'One+', email: 'one@example.com' })
    expect(byId(second!)).toMatchObject({ name: 'Two', email: 'two@example.com' })
  })

  it('finds the patch rows that matched nothing after a bulk patch that modified fewer users', async () => {
    const ids = stack.current.crud.seed(USERS_ENDPOINT, [
      { userGroup: 'customer', name: 'One', surname: 'S' },
      { userGroup: 'customer', name: 'Two', surname: 'S' },
    ])
    const csv = csvOf([
      ['_id', 'userGroup', 'name', 'surname'],
      [ids[0]!, 'customer', 'One+', 'S'],
      ['0123456789abcdef01234567', 'customer', 'Nobody', 'S'],
      ['not-an-object-id', 'customer', 'Nobody', 'S'],
      [ids[1]!, 'customer', 'Two+', 'S'],
    ])
    const answer = await upload(csv)
    expect(answer.body).toEqual({
      updated: ids,
      inserted: [],
      invalid: [
        { row: 2, error: 'Skipping record: no user with this _id' },
        { row: 3, error: expect.stringMatching(/^Skipping record: (no user with this _id|refused by the CRUD Service)/) },
      ],
    })
    expect(answer.text).not.toContain('0123456789abcdef01234567')
    expect(answer.text).not.toContain('not-an-object-id')
    expect(users().map((user) => user.name)).toEqual(['One+', 'Two+'])

    stack.current.crud.clearRequests()
    const valid = await upload(csvOf([['_id', 'userGroup', 'name', 'surname'], [ids[0]!, 'customer', 'One', 'S'], ['0123456789abcdef01234567', 'customer', 'X', 'S']]))
    expect(valid.body.invalid).toEqual([{ row: 2, error: 'Skipping record: no user with this _id' }])
    // One bulk patch, then one read of the ids that exist: no row-by-row retry.
    expect(stack.current.crud.requestsTo('PATCH', `${USERS_ENDPOINT}/bulk`)).toHaveLength(1)
    expect(stack.current.crud.requestsTo('GET', `${USERS_ENDPOINT}/`)).toHaveLength(1)
  })

  it('schedules the expiry of inserted users with an expirationDate and stores the expirationId', async () => {
    const csv = csvOf([
      ['userGroup', 'name', 'surname', 'expirationDate'],
      ['customer', 'Expiring', 'S', '2031-05-01T10:00:00.000Z'],
      ['customer', 'Forever', 'S', ''],
    ])
    const answer = await upload(csv)
    expect(answer.body.invalid).toEqual([])
    const [expiring, forever] = answer.body.inserted.map((id) => byId(id)!)
    const [timer, ...others] = stack.current.timer.expirations()
    expect(others).toEqual([])
    expect(expiring!.expirationId).toBe(timer!.expirationId)
    expect(timer).toMatchObject({
      expirationDate: '2031-05-01T10:00:00.000Z',
      payload: { $set: { blocked: true } },
      outputMode: { method: 'patch', path: `/users/${String(expiring!._id)}` },
      expirationStatus: { description: 'pending' },
    })
    expect(forever).not.toHaveProperty('expirationId')
  })

  it('reschedules the expiry of a patched user whose expirationDate changes, aborting the old timer', async () => {
    const created = await stack.call('POST', '/users/?postponeAuthUserCreation=true', {
      json: { userGroup: 'customer', name: 'Anna', surname: 'S', expirationDate: '2030-01-01T00:00:00.000Z' },
    })
    const id = created.body._id as string
    const oldExpirationId = byId(id)!.expirationId
    expect(oldExpirationId).toEqual(expect.any(String))
    const csv = csvOf([
      ['_id', 'userGroup', 'name', 'surname', 'expirationDate'],
      [id, 'customer', 'Anna', 'S', '2032-02-02T00:00:00Z'],
    ])
    const answer = await upload(csv)
    expect(answer.body).toEqual({ updated: [id], inserted: [], invalid: [] })
    const user = byId(id)!
    expect(user.expirationDate).toBe('2032-02-02T00:00:00.000Z')
    expect(user.expirationId).not.toBe(oldExpirationId)
    const timers = new Map(stack.current.timer.expirations().map((timer) => [timer.expirationId, timer]))
    expect(timers.get(oldExpirationId as string)?.expirationStatus.description).toBe('aborted')
    expect(timers.get(user.expirationId as string)).toMatchObject({ expirationDate: '2032-02-02T00:00:00.000Z', expirationStatus: { description: 'pending' } })

    // The same date again: nothing to reschedule.
    await upload(csv)
    expect(byId(id)!.expirationId).toBe(user.expirationId)
    expect(stack.current.timer.expirations()).toHaveLength(2)
  })

  it('imports a 2,000-row file completely, in bulk calls of the default batch size', async () => {
    const rows = [['userGroup', 'name', 'surname', 'email', 'username', 'age', 'tags']]
    for (let index = 0; index < 2000; index += 1) {
      rows.push(['customer', `Name${index}`, `Surname${index}`, `user${index}@example.com`, `user${index}`, String(index % 90), '[a, b]'])
    }
    const answer = await upload(csvOf(rows, ';'), { fields: { delimiter: ';' } })
    expect(answer.status).toBe(200)
    expect(answer.body.invalid).toEqual([])
    expect(answer.body.inserted).toHaveLength(2000)
    expect(new Set(answer.body.inserted).size).toBe(2000)
    expect(users()).toHaveLength(2000)
    expect(byId(answer.body.inserted[1999]!)).toMatchObject({ name: 'Name1999', age: 1999 % 90, tags: ['a', 'b'] })
    expect(stack.current.crud.requestsTo('POST', `${USERS_ENDPOINT}/bulk`).map((call) => (call.body as unknown[]).length)).toEqual([
      250, 250, 250, 250, 250, 250, 250, 250,
    ])
  })

  it('is described in the OpenAPI document as a multipart request', async () => {
    const doc = await stack.call('GET', '/documentation/json')
    const operation = doc.body.paths['/users/import'].patch
    expect(Object.keys(operation.requestBody.content)).toEqual(['multipart/form-data'])
    expect(operation.requestBody.content['multipart/form-data'].schema.properties.file).toMatchObject({ type: 'string', format: 'binary' })
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '400', '413', '500']))
  })
})
