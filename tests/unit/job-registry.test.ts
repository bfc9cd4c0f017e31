import { describe, expect, it } from 'vitest'
import { InMemoryJobRegistry, JobRegistryFullError } from '../../src/jobs/registry.js'

function registry(options: { ttlMs?: number; maxJobs?: number } = {}) {
  let now = Date.parse('2026-01-01T00:00:00.000Z')
  const jobs = new InMemoryJobRegistry({ ttlMs: options.ttlMs ?? 1_000, maxJobs: options.maxJobs, now: () => now })
  return { jobs, advance: (ms: number) => (now += ms) }
}

describe('InMemoryJobRegistry', () => {
  it('creates pending jobs with a UUID v4 and the creation time', () => {
    const { jobs } = registry()
    const job = jobs.create('change-password')
    expect(job).toEqual({ jobId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/), kind: 'change-password', status: 'pending', jobCreatedAt: '2026-01-01T00:00:00.000Z' })
    expect(jobs.get('change-password', job.jobId)).toBe(job)
    expect(jobs.get('bulk-activation', job.jobId)).toBeUndefined()
  })

  it('reports progress only while pending and keeps the result once finished', () => {
    const { jobs } = registry()
    const job = jobs.create<{ n: number }>('bulk-activation')
    jobs.progress(job.jobId, 1, 3)
    expect(job.progress).toEqual({ done: 1, total: 3 })
    jobs.complete(job.jobId, { n: 3 })
    expect(job).toMatchObject({ status: 'completed', result: { n: 3 } })
    expect(job).not.toHaveProperty('progress')
    jobs.progress(job.jobId, 2, 3)
    jobs.fail(job.jobId)
    expect(job.status).toBe('completed')
    expect(job).not.toHaveProperty('progress')
  })

  it('evicts finished jobs after the TTL, never running ones', () => {
    const { jobs, advance } = registry({ ttlMs: 1_000 })
    const finished = jobs.create('change-password')
    const running = jobs.create('change-password')
    jobs.fail(finished.jobId)
    advance(999)
    expect(jobs.get('change-password', finished.jobId)?.status).toBe('failed')
    advance(1)
    expect(jobs.get('change-password', finished.jobId)).toBeUndefined()
    advance(10_000)
    expect(jobs.get('change-password', running.jobId)?.status).toBe('pending')
  })

  it('bounds the jobs kept: oldest finished evicted first, full when all are running', () => {
    const { jobs } = registry({ maxJobs: 2 })
    const first = jobs.create('change-password')
    const second = jobs.create('change-password')
    expect(jobs.unavailableReason()).toBe('job registry full (2 jobs)')
    expect(() => jobs.create('change-password')).toThrow(JobRegistryFullError)
    jobs.complete(first.jobId, {})
    const third = jobs.create('change-password')
    expect(jobs.get('change-password', first.jobId)).toBeUndefined()
    expect(jobs.get('change-password', second.jobId)).toBeDefined()
    expect(jobs.get('change-password', third.jobId)).toBeDefined()
  })
})
