// Chaos on three live replicas sharing one job store, on PostgreSQL and on Redis: jobs of every
// kind go to random replicas while random replicas get a SIGKILL or a SIGTERM and come back, for
// about a minute. The schedule comes from a seed, printed here; CHAOS_SEED=<seed> replays it
// (CHAOS_DURATION_MS changes the length). The workload and its checks are in tests/helpers/chaos.ts.
import { describe, expect, it } from 'vitest'
import { chaosSeed, runChaos } from '../helpers/chaos.js'
import { isolatedJobStore, jobStoreEnv } from '../helpers/stack.js'

const DURATION_MS = Number(process.env.CHAOS_DURATION_MS ?? 60_000)

describe.concurrent.each(['postgres', 'redis'] as const)('three replicas on one %s job store, killed and restarted at random', (kind) => {
  it('completes every job, links every user once, starts no import twice, repeats no email beyond the bound, and loses no process', async () => {
    const seed = chaosSeed()
    const store = (await isolatedJobStore(kind))!
    try {
      const report = await runChaos({
        storeEnv: jobStoreEnv(store),
        seed,
        replicas: 3,
        jobs: Math.max(3, Math.round(DURATION_MS / 4_000)),
        durationMs: DURATION_MS,
        killEveryMs: [4_000, 8_000],
        downForMs: [500, 2_500],
        activationUsers: [100, 500],
        changePasswordIds: [50, 200],
        lockLifetimeMs: 3_000,
        rate: 20,
        drainTimeoutMs: 60_000,
        log: (line) => console.error(`[${kind}] ${line}`),
      })
      console.error(
        `[${kind}] seed ${seed}: ${report.jobs.length} jobs completed in ${(report.wallMs / 1000).toFixed(1)} s through ${report.kills.length} kills; ` +
          `${report.repeatedEmails} emails repeated (bound ${report.repeatedEmailsBound}); longest stall ${report.longestStallMs} ms`,
      )
      expect(report.violations, `seed ${seed} (CHAOS_SEED=${seed} replays it)`).toEqual([])
      expect(report.kills.length).toBeGreaterThan(0)
      expect(report.jobs.every((job) => job.status === 'completed')).toBe(true)
    } finally {
      await store.cleanup()
    }
  }, DURATION_MS + 120_000)
})
