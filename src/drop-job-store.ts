// `npm run jobs:drop-store` (`node dist/drop-job-store.js` where only the build is, as in the
// image): removes everything the job store of JOBS_STORE_URL (or MONGODB_URL) and
// JOBS_COLLECTION_NAME holds, Agenda's jobs and ums's records, journals and leases, after asking
// (or at once with --yes). It reads the environment and `.env` as the service does, so that it
// finds the store the service uses. Meant for a store no replica uses any more: a running replica
// would create it again, and lose the jobs it was running.
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline/promises'
import { ConfigError, ENV_SCHEMA } from './config/index.js'
import { parseJobStore } from './config/values.js'
import { describeStore } from './jobs/stores/errors.js'
import { dropDurableJobStore } from './jobs/stores/index.js'
import { messageOf } from './lib/message-of.js'

const USAGE = 'usage: npm run jobs:drop-store [-- --yes]'

/** JOBS_COLLECTION_NAME as the service reads it: its default, and the same rule. */
function storeName(env: NodeJS.ProcessEnv): string {
  const { pattern, default: fallback } = ENV_SCHEMA.properties.JOBS_COLLECTION_NAME
  const name = env.JOBS_COLLECTION_NAME ?? fallback
  if (!new RegExp(pattern).test(name)) throw new ConfigError(`JOBS_COLLECTION_NAME must be letters, digits and _ (at most 40, not starting with a digit), got "${name}"`)
  return name
}

async function confirmed(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr })
  try {
    // An input that ends without an answer (closed stdin) is a no.
    const answer = await Promise.race([prompt.question(question), new Promise<string>((resolve) => prompt.once('close', () => resolve('')))])
    return answer.trim().toLowerCase() === 'yes'
  } finally {
    prompt.close()
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2)
  const yes = args.includes('--yes')
  if (args.some((arg) => arg !== '--yes')) throw new ConfigError(USAGE)
  if (existsSync('.env')) process.loadEnvFile('.env')
  const store = parseJobStore(process.env)
  if (store.backend === 'memory') throw new ConfigError('JOBS_STORE_URL and MONGODB_URL are unset: the jobs are kept in memory, and there is no store to drop')
  const name = storeName(process.env)
  const described = `${describeStore(store.backend, store.url, name)} (from ${store.variable})`
  if (!yes && !(await confirmed(`Remove every job, journal and lease of ${described}? Replicas still using it lose their jobs. Type yes to go on: `))) {
    console.error('Nothing removed.')
    return 1
  }
  const removed = await dropDurableJobStore(store.backend, { url: store.url, name })
  // The report is the command's output (stdout); questions and errors go to stderr.
  if (removed.length === 0) process.stdout.write(`${described} held nothing: nothing removed.\n`)
  else process.stdout.write(`Removed from ${described}:\n${removed.map((item) => `  ${item}\n`).join('')}`)
  return 0
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // One line: a setting to fix or a store to reach, for the operator who ran the command.
    console.error(`jobs:drop-store: ${messageOf(error)}`)
    process.exit(1)
  },
)
