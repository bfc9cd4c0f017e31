// The journals of the two jobs, as pure logic: what a resumed run rebuilds from the checkpoints,
// and how change-password outcomes are batched into them.
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import type { ImportUser } from '../../src/auth-providers/provider.js'
import { activationResult, foldActivation, settledCount, usersToImport, type ActivationEntry } from '../../src/services/bulk-activation/journal.js'
import { OutcomeRecorder, Outcomes, type OutcomesEntry } from '../../src/services/change-password-bulk/outcomes.js'
import { ImportSlots } from '../../src/services/bulk-activation/import-slots.js'

const user = (id: string): ImportUser => ({ user_id: id, email: `${id}@example.com`, email_verified: false })
const failed = (userId: string) => ({ userId, errors: [{ code: 'X', message: 'x' }] })

const prepared: ActivationEntry = {
  type: 'prepared',
  files: [
    { users: [user('g1'), user('g2')], crudIds: ['c1', 'c2'] },
    { users: [user('g3')], crudIds: ['c3'] },
  ],
  failures: [failed('c0')],
  skipped: 2,
}

describe('bulk-activation journal', () => {
  it('rebuilds the files, the started imports and the outcomes from the entries', () => {
    const state = foldActivation([
      prepared,
      { type: 'import-starting', file: 0 },
      { type: 'import-started', file: 0, auth0JobId: 'job_a', startedAt: 5 },
      { type: 'import-starting', file: 1 },
    ])
    expect(state.prepared).toBe(true)
    expect(state.files[0]).toMatchObject({ auth0JobId: 'job_a', startedAt: 5, startUnconfirmed: false })
    expect(state.files[0]!.crudIds.get('g2')).toBe('c2')
    expect(state.files[1]).toMatchObject({ startUnconfirmed: true, recoveredOnce: false })
    expect(state.files[1]!.auth0JobId).toBeUndefined()
    expect(settledCount(state)).toBe(3)
  })

  it('leaves the users a recovery found out of the next import, and counts them', () => {
    const state = foldActivation([
      prepared,
      { type: 'import-starting', file: 0 },
      { type: 'import-recovered', file: 0, found: ['g1'], inserted: 1, failures: [] },
    ])
    const file = state.files[0]!
    expect(file).toMatchObject({ startUnconfirmed: false, recoveredOnce: true, recoveredInserted: 1 })
    expect(usersToImport(file).map((entry) => entry.user_id)).toEqual(['g2'])
    expect(settledCount(state)).toBe(4)
  })

  it('sums the file outcomes into the result, failed when no import completed', () => {
    const done = foldActivation([
      prepared,
      { type: 'file-done', file: 0, inserted: 1, updated: 1, failures: [], importCompleted: true },
      { type: 'file-done', file: 1, inserted: 0, updated: 0, failures: [failed('c3')], importCompleted: false },
    ])
    expect(activationResult(done)).toEqual({
      summary: { failed: 2, updated: 1, inserted: 1, total: 4, skipped: 2 },
      failures: [failed('c0'), failed('c3')],
    })
    const nothingImported = foldActivation([
      prepared,
      { type: 'file-done', file: 0, inserted: 0, updated: 0, failures: [failed('c1'), failed('c2')], importCompleted: false },
      { type: 'file-done', file: 1, inserted: 0, updated: 0, failures: [failed('c3')], importCompleted: false },
    ])
    expect(activationResult(nothingImported)).toBe('failed')
  })
})

describe('change-password outcomes', () => {
  it('keeps the first outcome of an id, in the order recorded', () => {
    const outcomes = new Outcomes([
      { completed: ['a', 'b'], failures: [] },
      { completed: ['a'], failures: [{ authUserId: 'c', message: 'm' }, { authUserId: 'b', message: 'later' }] },
    ])
    expect(outcomes.completed).toEqual(['a', 'b'])
    expect(outcomes.failures).toEqual([{ authUserId: 'c', message: 'm' }])
    expect(outcomes.size).toBe(3)
    expect(outcomes.has('c')).toBe(true)
  })

  it('writes outcomes in batches and settles each once its batch is written', async () => {
    const written: OutcomesEntry[] = []
    const outcomes = new Outcomes()
    const recorder = new OutcomeRecorder(async (entry) => {
      written.push(entry)
    }, outcomes, 5)
    await Promise.all([recorder.record({ authUserId: 'a' }), recorder.record({ authUserId: 'b', failure: 'no' })])
    expect(written).toEqual([{ completed: ['a'], failures: [{ authUserId: 'b', message: 'no' }] }])
    expect(outcomes.size).toBe(2)
  })

  it('rejects every waiting and later outcome once a write failed', async () => {
    const recorder = new OutcomeRecorder(async () => {
      throw new Error('store down')
    }, new Outcomes(), 5)
    await expect(recorder.record({ authUserId: 'a' })).rejects.toThrow('store down')
    await expect(recorder.record({ authUserId: 'b' })).rejects.toThrow('store down')
  })
})

describe('import slots', () => {
  it('hands out at most `max` slots, in request order, and the next one on release', async () => {
    const slots = new ImportSlots(1)
    const signal = new AbortController().signal
    const first = await slots.acquire(signal)
    const order: string[] = []
    const second = slots.acquire(signal).then((slot) => (order.push('second'), slot))
    const third = slots.acquire(signal).then((slot) => (order.push('third'), slot))
    first!.release()
    ;(await second)!.release()
    await third
    expect(order).toEqual(['second', 'third'])
  })

  it('keeps starts paused until the pause is over, even when a timer fires early', async () => {
    // The slots' clock is the test's; only their resume timer needs faking.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    onTestFinished(() => {
      vi.useRealTimers()
    })
    let now = 0
    const slots = new ImportSlots(2, () => now)
    slots.pause(150)
    let done = false
    void slots.acquire(new AbortController().signal).then(() => (done = true))
    // When the resume timer fires, the clock says 10 ms are left: it must wait again, not give up.
    now = 140
    await vi.advanceTimersByTimeAsync(220)
    expect(done).toBe(false)
    now = 150
    await vi.advanceTimersByTimeAsync(60)
    expect(done).toBe(true)
  })

  it('answers undefined to a waiter whose signal aborts', async () => {
    const slots = new ImportSlots(1)
    await slots.acquire(new AbortController().signal)
    const controller = new AbortController()
    const waiting = slots.acquire(controller.signal)
    controller.abort()
    expect(await waiting).toBeUndefined()
  })
})
