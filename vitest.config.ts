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
  'tests/faults/matrix.test.ts',
  'tests/jobs/outage.test.ts',
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

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    // Most files wait on peers, timers and child processes rather than on the CPU: on 2 cores
    // vitest's default (one worker per core but one) runs them one after another.
    maxWorkers: 5,
    sequence: { sequencer: SlowestFirst },
    testTimeout: 20_000,
    hookTimeout: 20_000,
    allowOnly: false,
    reporters: ['default'],
  },
})
