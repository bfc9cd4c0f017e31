// sdk/src/openapi.ts must be what `npm run sdk:generate` writes from the document the app serves
// now: a route schema changed without regenerating fails here, before the SDK drifts from the API.
import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { TYPES_FILE, servedDocument, typesOf } from '../../sdk/scripts/generate.js'

describe('the SDK types', () => {
  it('are those generated from the OpenAPI document the app serves', async () => {
    const document = await servedDocument()
    const committed = await readFile(TYPES_FILE, 'utf8')
    // On failure: run `npm run sdk:generate` and review the SDK against the changed types.
    expect(committed, 'sdk/src/openapi.ts is out of date: run npm run sdk:generate').toBe(await typesOf(document))
  })

  it('change when a route of the document changes', async () => {
    const document = await servedDocument()
    const before = await typesOf(document)
    const countUsers = document.paths!['/users/count'] as { get: { summary: string } }
    countUsers.get.summary = 'Count users, described differently'
    const after = await typesOf(document)
    expect(after).not.toBe(before)
    expect(after).toContain('Count users, described differently')
  })
})
