import { describe, expect, it } from 'vitest'
import { walkBetween } from '../../src/services/users/remove.js'

// The CRUD's transitions for one document: PUBLIC and DRAFT reach each other and TRASH; TRASH
// reaches DRAFT and DELETED; DELETED reaches TRASH only.
describe('walkBetween', () => {
  it.each([
    ['PUBLIC', 'PUBLIC', []],
    ['PUBLIC', 'DRAFT', ['DRAFT']],
    ['PUBLIC', 'TRASH', ['TRASH']],
    ['PUBLIC', 'DELETED', ['TRASH', 'DELETED']],
    ['DRAFT', 'PUBLIC', ['PUBLIC']],
    ['DRAFT', 'DRAFT', []],
    ['DRAFT', 'TRASH', ['TRASH']],
    ['DRAFT', 'DELETED', ['TRASH', 'DELETED']],
    ['TRASH', 'PUBLIC', ['DRAFT', 'PUBLIC']],
    ['TRASH', 'DRAFT', ['DRAFT']],
    ['TRASH', 'TRASH', []],
    ['TRASH', 'DELETED', ['DELETED']],
    ['DELETED', 'PUBLIC', ['TRASH', 'DRAFT', 'PUBLIC']],
    ['DELETED', 'DRAFT', ['TRASH', 'DRAFT']],
    ['DELETED', 'TRASH', ['TRASH']],
    ['DELETED', 'DELETED', []],
  ] as const)('goes from %s to %s through %j', (from, to, steps) => {
    expect(walkBetween(from, to)).toEqual(steps)
  })
})
