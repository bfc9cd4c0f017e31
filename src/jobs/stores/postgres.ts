// The PostgreSQL job store: job records, their checkpoint journals and the leases live in three
// tables named after JOBS_COLLECTION_NAME, next to Agenda's own table, all on one pool that the
// store shares with Agenda's backend and closes itself.
import { Client, Pool, type PoolClient } from 'pg'
import { PostgresBackend } from '@agendajs/postgres-backend'
import {
  isExpired,
  type DurableJobStore,
  type DropJobStoreOptions,
  type DurableJobStoreOptions,
  type JobEnd,
  type JobKind,
  type JobProgress,
  type JobRecord,
  type JobStatus,
  type JobStore,
  type NewJob,
} from '../store.js'
import { listen } from '../listeners.js'
import { STORE_BACKENDS, storeUnreachable } from './errors.js'

const { name: BACKEND_NAME, defaultPort: DEFAULT_PORT } = STORE_BACKENDS.postgres
// Job ids reach the store straight from request paths: anything but a UUID is unknown, rather
// than an error of the uuid column.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

interface RecordRow {
  kind: JobKind
  status: JobStatus
  created_at: Date
  finished_at: Date | null
  progress: string | null
  result: string | null
}

/** Quotes an identifier, doubling the quotes it contains. */
function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`
}

/** JSON text for a json parameter, SQL NULL for undefined (pg would turn arrays into PostgreSQL arrays). */
function json(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value)
}

/** ums's tables of a store, quoted. */
function umsTables(name: string): { records: string; checkpoints: string; leases: string } {
  return { records: quote(`${name}_records`), checkpoints: quote(`${name}_checkpoints`), leases: quote(`${name}_leases`) }
}

/**
 * Agenda's job log table, which its backend creates whether logging is on or not (ums leaves it
 * off): named after the store like everything else, rather than Agenda's `agenda_logs` shared by
 * every store of the schema, so that a store can be removed whole.
 */
const agendaLogTable = (name: string) => `${name}_logs`

export function openPostgresJobStore(options: DurableJobStoreOptions): DurableJobStore {
  const now = options.now ?? Date.now
  const { records, checkpoints, leases } = umsTables(options.name)
  const pool = new Pool({ connectionString: options.url, max: 10, connectionTimeoutMillis: 5000 })
  // While the server is away, Agenda's notification channel retries its LISTEN connection several
  // times a second: each error is reported once until a connection succeeds again.
  const reported = new Set<string>()
  function report(error: Error): void {
    if (!reported.has(error.message)) options.onBackgroundError?.(error)
    reported.add(error.message)
  }
  // An idle client whose connection drops emits on the pool: unheard, that would end the process.
  listen(pool, 'postgres pool', 'error', report, options.onListenerFailure)
  listen(pool, 'postgres pool', 'connect', () => reported.clear(), options.onListenerFailure)
  const agendaBackend = new PostgresBackend({ pool, tableName: options.name, channelName: options.name, logTableName: agendaLogTable(options.name) })
  // Agenda listens to no error of its notification channel, whose LISTEN connection fails with the
  // server: unheard, such an error would be thrown at the process.
  if (agendaBackend.notificationChannel) listen(agendaBackend.notificationChannel, 'postgres notification channel', 'error', report, options.onListenerFailure)
  let closed = false

  async function transaction(work: (client: PoolClient) => Promise<void>): Promise<void> {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      await work(client)
      await client.query('COMMIT')
      client.release()
    } catch (error) {
      // A client whose ROLLBACK fails is broken: releasing it with the error discards it.
      await client.query('ROLLBACK').then(
        () => client.release(),
        (rollbackError: Error) => client.release(rollbackError),
      )
      throw error
    }
  }

  // json rather than jsonb: these documents are only written and read back whole, and a
  // checkpoint may hold megabytes (an activation's import files) that jsonb would decompose for nothing.
  async function createTables(client: PoolClient): Promise<void> {
    await client.query(`CREATE TABLE IF NOT EXISTS ${records} (
      job_id uuid PRIMARY KEY,
      kind text NOT NULL,
      status text NOT NULL,
      created_at timestamptz NOT NULL,
      finished_at timestamptz,
      input json,
      progress json,
      result json
    )`)
    await client.query(`CREATE TABLE IF NOT EXISTS ${checkpoints} (
      job_id uuid NOT NULL REFERENCES ${records} (job_id) ON DELETE CASCADE,
      seq bigserial,
      entries json NOT NULL,
      PRIMARY KEY (job_id, seq)
    )`)
    await client.query(`CREATE TABLE IF NOT EXISTS ${leases} (name text PRIMARY KEY, holder text NOT NULL, expires_at timestamptz NOT NULL)`)
  }

  const store: JobStore = {
    backendName: BACKEND_NAME,

    async connect() {
      try {
        const client = await pool.connect()
        try {
          await client.query('SELECT 1')
          // Replicas starting together on a new database would race to create the same tables
          // (IF NOT EXISTS does not guard against a concurrent CREATE): a lock on the schema and
          // name takes them one at a time, Agenda's table included.
          await client.query(`SELECT pg_advisory_lock(hashtext(current_schema() || '.' || $1))`, [options.name])
          await createTables(client)
          await agendaBackend.connect()
          await client.query(`SELECT pg_advisory_unlock(hashtext(current_schema() || '.' || $1))`, [options.name])
          client.release()
        } catch (error) {
          // Ending the connection also ends its lock.
          client.release(true)
          throw error
        }
      } catch (error) {
        throw storeUnreachable(BACKEND_NAME, options.url, DEFAULT_PORT, error)
      }
    },

    async ping() {
      try {
        await pool.query('SELECT 1')
      } catch (error) {
        throw storeUnreachable(BACKEND_NAME, options.url, DEFAULT_PORT, error)
      }
    },

    async close() {
      if (closed) return
      closed = true
      // The pool ends once every client is back, and Agenda's LISTEN client only comes back when
      // its channel disconnects: a store closed before Agenda stops would wait for ever.
      await agendaBackend.notificationChannel?.disconnect()
      await pool.end()
    },

    async create(job: NewJob) {
      await pool.query(`INSERT INTO ${records} (job_id, kind, status, created_at, input, progress) VALUES ($1, $2, 'pending', $3, $4::json, $5::json)`, [
        job.jobId,
        job.kind,
        job.jobCreatedAt,
        json(job.input),
        json(job.progress),
      ])
    },

    async get(jobId: string) {
      if (!UUID.test(jobId)) return undefined
      const { rows } = await pool.query<RecordRow>(
        `SELECT kind, status, created_at, finished_at, progress::text AS progress, result::text AS result FROM ${records} WHERE job_id = $1`,
        [jobId],
      )
      const row = rows[0]
      if (!row) return undefined
      const finishedAt = row.finished_at?.getTime()
      if (isExpired(finishedAt, options.ttlMs, now())) return undefined
      const record: JobRecord = { jobId, kind: row.kind, status: row.status, jobCreatedAt: row.created_at.toISOString() }
      if (row.progress !== null) record.progress = JSON.parse(row.progress) as JobProgress
      if (row.result !== null) record.result = JSON.parse(row.result)
      if (finishedAt !== undefined) record.finishedAt = finishedAt
      return record
    },

    async getInput(jobId: string) {
      if (!UUID.test(jobId)) return undefined
      const { rows } = await pool.query<{ input: string | null }>(
        `SELECT input::text AS input FROM ${records} WHERE job_id = $1 AND status = 'pending'`,
        [jobId],
      )
      const input = rows[0]?.input
      return input == null ? undefined : JSON.parse(input)
    },

    async setProgress(jobId: string, progress: JobProgress) {
      if (!UUID.test(jobId)) return
      await pool.query(`UPDATE ${records} SET progress = $2::json WHERE job_id = $1 AND status = 'pending'`, [jobId, json(progress)])
    },

    async finish(jobId: string, end: JobEnd) {
      if (!UUID.test(jobId)) return
      const result = end.status === 'completed' ? json(end.result) : null
      await transaction(async (client) => {
        const { rowCount } = await client.query(
          `UPDATE ${records} SET status = $2, result = $3::json, finished_at = $4, progress = NULL, input = NULL WHERE job_id = $1 AND status = 'pending'`,
          [jobId, end.status, result, new Date(now())],
        )
        // A separate statement: it sees the checkpoints of an append that committed while the
        // UPDATE waited for the record's row lock.
        if (rowCount) await client.query(`DELETE FROM ${checkpoints} WHERE job_id = $1`, [jobId])
      })
    },

    async appendCheckpoints(jobId: string, entries: readonly unknown[]) {
      if (entries.length === 0 || !UUID.test(jobId)) return
      // FOR SHARE holds the pending record until the append commits, so a concurrent finish
      // either runs first (and nothing is appended) or deletes these checkpoints too.
      await pool.query(
        `INSERT INTO ${checkpoints} (job_id, entries) SELECT job_id, $2::json FROM ${records} WHERE job_id = $1 AND status = 'pending' FOR SHARE`,
        [jobId, json(entries)],
      )
    },

    async readCheckpoints(jobId: string) {
      if (!UUID.test(jobId)) return []
      const { rows } = await pool.query<{ entries: string }>(`SELECT entries::text AS entries FROM ${checkpoints} WHERE job_id = $1 ORDER BY seq`, [jobId])
      return rows.flatMap((row) => JSON.parse(row.entries) as unknown[])
    },

    async acquireLease(name: string, holder: string, ttlMs: number) {
      const at = now()
      const { rowCount } = await pool.query(
        `INSERT INTO ${leases} AS lease (name, holder, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
         WHERE lease.expires_at <= $4 OR lease.holder = EXCLUDED.holder
         RETURNING 1`,
        [name, holder, new Date(at + ttlMs), new Date(at)],
      )
      return rowCount === 1
    },

    async releaseLease(name: string, holder: string) {
      await pool.query(`DELETE FROM ${leases} WHERE name = $1 AND holder = $2`, [name, holder])
    },

    async purgeExpired() {
      await pool.query(`DELETE FROM ${records} WHERE finished_at <= $1`, [new Date(now() - options.ttlMs)])
    },
  }

  return { store, agendaBackend }
}

/**
 * Removes everything a store of this name created in the URL's schema: Agenda's table (its indexes
 * and trigger go with it), its log table, ums's three tables and the trigger function Agenda
 * creates, whose unquoted name PostgreSQL folds to lower case. Answers what it removed.
 */
export async function dropPostgresJobStore(options: DropJobStoreOptions): Promise<string[]> {
  const client = new Client({ connectionString: options.url, connectionTimeoutMillis: 5000 })
  // A connection lost midway fails the statement under way, which reports it: the event adds nothing.
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (error) {
    throw storeUnreachable(BACKEND_NAME, options.url, DEFAULT_PORT, error)
  }
  try {
    const tables = [quote(options.name), quote(agendaLogTable(options.name)), ...Object.values(umsTables(options.name))]
    const removed: string[] = []
    for (const table of tables) {
      const { rows } = await client.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [table])
      if (rows[0]?.found != null) removed.push(`table ${table}`)
    }
    await client.query(`DROP TABLE IF EXISTS ${tables.join(', ')} CASCADE`)
    const trigger = `update_${options.name}_updated_at()`
    const { rows } = await client.query<{ found: string | null }>('SELECT to_regprocedure($1) AS found', [trigger])
    if (rows[0]?.found != null) removed.push(`function ${rows[0].found}`)
    await client.query(`DROP FUNCTION IF EXISTS ${trigger}`)
    return removed
  } finally {
    await client.end()
  }
}
