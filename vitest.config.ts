import { defineConfig } from 'vitest/config'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

/**
 * The slowest files, in the order they start. Vitest's own order puts the files that took longest
 * in the last run first, but only when that run's timings are cached; a fresh checkout would start
 * them last and end on a long tail.
 */
const SLOWEST = [
  'tests/jobs/chaos.test.ts',
  'tests/jobs/processes.test.ts',
  'tests/jobs/outage.test.ts',
  'tests/faults/matrix.test.ts',
  'tests/integration/bulk-activation.test.ts',
  'tests/integration/sandbox.test.ts',
  'tests/jobs/live-replicas.test.ts',
  'tests/integration/signals.test.ts',
  'tests/cli/commands.test.ts',
  'tests/jobs/replicas.test.ts',
  'tests/integration/process.test.ts',
  'tests/jobs/drop-store.test.ts',
  'tests/jobs/store-contract.test.ts',
]

class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const index = SLOWEST.findIndex((path) => file.moduleId.endsWith(path))
      return index === -1 ? SLOWEST.length : index
    }
    const sorted = await super.sort(files)
    return sorted.map((file, order) => ({ file, order })).sort((a, b) => rank(a.file) - rank(b.file) || a.order - b.order).map(({ file }) => file)
  }
}

/**
 * Files that get a fresh process each. The others share their worker's modules with the files
 * that ran before in it, which spares the CPU of loading ums again for each file (the suite is
 * CPU-bound on 2 cores); they must not depend on process-wide state.
 */
const ISOLATED = [
  // Child processes, job stores, vi.doMock (driver-loading): little to share, much to leak.
  'tests/jobs/**/*.test.ts',
  'tests/cli/**/*.test.ts',
  'tests/browser/**/*.test.ts',
  'tests/integration/process.test.ts',
  'tests/integration/sandbox.test.ts',
  'tests/integration/signals.test.ts',
  // Exact values of the process-wide metrics.
  'tests/integration/metrics.test.ts',
  // The OpenTelemetry SDK registers itself process-wide.
  'tests/integration/tracing.test.ts',
  'tests/integration/trace-propagation.test.ts',
]

/**
 * Files that a stall of their own process makes fail: two check a pace on the times requests
 * arrive at an emulator in that process (a stall delays one arrival against the next), on a
 * process starved for seconds the Redis store can leave a connection open at close (the last
 * store-contract test catches it), and the fault matrix runs dozens of stacks in its process with
 * peer calls timed out after 300 ms, which a starved process can take to answer a read. Every
 * other file runs at a lower CPU priority (tests/helpers/background-priority.ts), so that the CPU
 * the others take cannot stall these.
 */
const FOREGROUND = [
  'tests/jobs/replicas.test.ts',
  'tests/integration/change-password-bulk.test.ts',
  'tests/jobs/store-contract.test.ts',
  'tests/faults/matrix.test.ts',
]
const BACKGROUND = ['tests/helpers/background-priority.ts']

export default defineConfig({
  test: {
    environment: 'node',
    // Most files wait on peers, timers and child processes rather than on the CPU: on 2 cores
    // vitest's default (one worker per core but one) runs them one after another.
    maxWorkers: 5,
    sequence: { sequencer: SlowestFirst },
    testTimeout: 20_000,
    hookTimeout: 20_000,
    allowOnly: false,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'isolated', include: ISOLATED, exclude: FOREGROUND, setupFiles: BACKGROUND } },
      { extends: true, test: { name: 'shared', include: ['tests/**/*.test.ts'], exclude: [...ISOLATED, ...FOREGROUND], isolate: false, setupFiles: BACKGROUND } },
      { extends: true, test: { name: 'foreground', include: FOREGROUND } },
    ],
  },
})
