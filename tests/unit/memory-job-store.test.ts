// The memory store's bound on the jobs it keeps (the store contract suite covers the rest).
import { describe, expect, it } from 'vitest'
import { JobStoreFullError, MemoryJobStore } from '../../src/jobs/memory-store.js'

const job = (jobId: string) => ({ jobId, kind: 'change-password' as const, jobCreatedAt: '2026-01-01T00:00:00.000Z', progress: { done: 0, total: 1 }, input: {} })

describe('MemoryJobStore bound', () => {
  it('evicts the oldest finished jobs first and refuses new ones when all kept jobs are running', async () => {
    const store = new MemoryJobStore({ ttlMs: 60_000, maxJobs: 2 })
    await store.create(job('first'))
    await store.create(job('second'))
    expect(store.unavailableReason()).toBe('job store full (2 jobs)')
    await expect(store.create(job('third'))).rejects.toThrow(JobStoreFullError)
    await store.finish('first', { status: 'completed', result: {} })
    expect(store.unavailableReason()).toBeUndefined()
    await store.create(job('third'))
    expect(await store.get('first')).toBeUndefined()
    expect(await store.get('second')).toBeDefined()
    expect(await store.get('third')).toBeDefined()
  })
})
