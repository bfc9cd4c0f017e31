// The MongoDB job store: job records, their checkpoint journals and the leases live in three
// collections named after JOBS_COLLECTION_NAME, next to Agenda's own collection, in the database
// of the URL and on one client shared with Agenda's backend. Finished records carry an `expireAt`
// that a TTL index honours; reads also filter by the store's clock, as the server sweeps only now
// and then.
import { MongoClient, MongoServerError, type Collection, type Db, type ServerHeartbeatFailedEvent } from 'mongodb'
import { MongoBackend } from '@agendajs/mongo-backend'
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
import { STORE_BACKENDS, storeUnreachable, storeUrlRefused } from './errors.js'

const { name: BACKEND_NAME, defaultPort: DEFAULT_PORT } = STORE_BACKENDS.mongodb
const DUPLICATE_KEY = 11000

interface RecordDocument {
  _id: string
  kind: JobKind
  status: JobStatus
  createdAt: Date
  finishedAt?: Date
  expireAt?: Date
  input?: unknown
  progress?: JobProgress
  result?: unknown
  /** The last checkpoint sequence number handed out. */
  checkpointSeq: number
}

interface CheckpointDocument {
  jobId: string
  seq: number
  entries: unknown[]
}

interface LeaseDocument {
  _id: string
  holder: string
  expiresAt: Date
}

/** ums's collections of a store, next to Agenda's, which is named after the store itself. */
function umsCollections(name: string): { records: string; checkpoints: string; leases: string } {
  return { records: `${name}.records`, checkpoints: `${name}.checkpoints`, leases: `${name}.leases` }
}

/**
 * Agenda's job log collection, which its backend creates whether logging is on or not (ums leaves
 * it off): named after the store rather than Agenda's `agenda_logs` shared by every store of the
 * database, so that a store can be removed whole.
 */
const agendaLogCollection = (name: string) => `${name}.logs`

export function openMongoJobStore(options: DurableJobStoreOptions): DurableJobStore {
  const now = options.now ?? Date.now
  let client: MongoClient
  let db: Db
  try {
    client = new MongoClient(options.url, { serverSelectionTimeoutMS: 5000, connectTimeoutMS: 5000 })
    // The handle is lazy: it is usable once the client connects, which `connect()` does first.
    db = client.db()
  } catch (error) {
    // The driver parses the URL (its options, the database name) here, before any connection.
    throw storeUrlRefused(BACKEND_NAME, options.url, DEFAULT_PORT, error)
  }
  const names = umsCollections(options.name)
  const records: Collection<RecordDocument> = db.collection<RecordDocument>(names.records)
  const checkpoints: Collection<CheckpointDocument> = db.collection<CheckpointDocument>(names.checkpoints)
  const leases: Collection<LeaseDocument> = db.collection<LeaseDocument>(names.leases)
  const agendaBackend = new MongoBackend({ mongo: db, collection: options.name, logCollection: agendaLogCollection(options.name) })
  // The client reports a lost server through its monitoring, not as an error event, and its monitor
  // keeps knocking while the server is away: each error is reported once until a server answers.
  const reported = new Set<string>()
  listen(
    client,
    'mongodb client',
    'serverHeartbeatFailed',
    ({ failure }: ServerHeartbeatFailedEvent) => {
      if (!reported.has(failure.message)) options.onBackgroundError?.(failure)
      reported.add(failure.message)
    },
    options.onListenerFailure,
  )
  listen(client, 'mongodb client', 'serverHeartbeatSucceeded', () => reported.clear(), options.onListenerFailure)

  let closed = false

  const store: JobStore = {
    backendName: BACKEND_NAME,

    async connect() {
      try {
        await client.connect()
        await db.command({ ping: 1 })
        await records.createIndex({ expireAt: 1 }, { expireAfterSeconds: 0 })
        await records.createIndex({ finishedAt: 1 })
        await checkpoints.createIndex({ jobId: 1, seq: 1 }, { unique: true })
        await agendaBackend.connect()
      } catch (error) {
        throw storeUnreachable(BACKEND_NAME, options.url, DEFAULT_PORT, error)
      }
    },

    async ping() {
      try {
        // A client whose connect failed stays closed ("Topology is closed"): connecting again is
        // what lets the store come back by itself, and a no-op while connected.
        if (!closed) await client.connect()
        await db.command({ ping: 1 })
      } catch (error) {
        throw storeUnreachable(BACKEND_NAME, options.url, DEFAULT_PORT, error)
      }
    },

    async close() {
      closed = true
      await client.close()
    },

    async create(job: NewJob) {
      const record: RecordDocument = {
        _id: job.jobId,
        kind: job.kind,
        status: 'pending',
        createdAt: new Date(job.jobCreatedAt),
        progress: { ...job.progress },
        checkpointSeq: 0,
      }
      if (job.input !== undefined) record.input = job.input
      await records.insertOne(record)
    },

    async get(jobId: string) {
      const document = await records.findOne({ _id: jobId })
      if (!document) return undefined
      const finishedAt = document.finishedAt?.getTime()
      if (isExpired(finishedAt, options.ttlMs, now())) return undefined
      const record: JobRecord = { jobId, kind: document.kind, status: document.status, jobCreatedAt: document.createdAt.toISOString() }
      if (document.progress !== undefined) record.progress = { done: document.progress.done, total: document.progress.total }
      if ('result' in document) record.result = document.result
      if (finishedAt !== undefined) record.finishedAt = finishedAt
      return record
    },

    async getInput(jobId: string) {
      const document = await records.findOne({ _id: jobId, status: 'pending' }, { projection: { input: 1 } })
      return document?.input
    },

    async setProgress(jobId: string, progress: JobProgress) {
      await records.updateOne({ _id: jobId, status: 'pending' }, { $set: { progress: { ...progress } } })
    },

    async finish(jobId: string, end: JobEnd) {
      const finishedAt = now()
      const set: Partial<RecordDocument> = { status: end.status, finishedAt: new Date(finishedAt), expireAt: new Date(finishedAt + options.ttlMs) }
      if (end.status === 'completed' && end.result !== undefined) set.result = end.result
      const { modifiedCount } = await records.updateOne({ _id: jobId, status: 'pending' }, { $set: set, $unset: { progress: '', input: '' } })
      if (modifiedCount === 1) await checkpoints.deleteMany({ jobId })
    },

    async appendCheckpoints(jobId: string, entries: readonly unknown[]) {
      if (entries.length === 0) return
      const record = await records.findOneAndUpdate(
        { _id: jobId, status: 'pending' },
        { $inc: { checkpointSeq: 1 } },
        { returnDocument: 'after', projection: { checkpointSeq: 1 } },
      )
      if (!record) return
      await checkpoints.insertOne({ jobId, seq: record.checkpointSeq, entries: [...entries] })
      // Without a transaction, a finish may have cleared the journal between the two writes: the
      // entries just written are then dropped as the finish would have.
      if (!(await records.countDocuments({ _id: jobId, status: 'pending' }, { limit: 1 }))) await checkpoints.deleteMany({ jobId })
    },

    async readCheckpoints(jobId: string) {
      const documents = await checkpoints.find({ jobId }, { projection: { entries: 1 } }).sort({ seq: 1 }).toArray()
      return documents.flatMap((document) => document.entries)
    },

    async acquireLease(name: string, holder: string, ttlMs: number) {
      const at = now()
      try {
        // Matches a lease that expired or that `holder` holds; when another holder's lease is
        // live, the upsert collides with it on _id.
        await leases.findOneAndUpdate(
          { _id: name, $or: [{ expiresAt: { $lte: new Date(at) } }, { holder }] },
          { $set: { holder, expiresAt: new Date(at + ttlMs) } },
          { upsert: true },
        )
        return true
      } catch (error) {
        if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return false
        throw error
      }
    },

    async releaseLease(name: string, holder: string) {
      await leases.deleteOne({ _id: name, holder })
    },

    async purgeExpired() {
      await records.deleteMany({ finishedAt: { $lte: new Date(now() - options.ttlMs) } })
    },
  }

  return { store, agendaBackend }
}

/**
 * Drops the collections of a store of this name from the URL's database: Agenda's (`<name>`), its
 * log collection and ums's three. Answers what it removed.
 */
export async function dropMongoJobStore(options: DropJobStoreOptions): Promise<string[]> {
  let client: MongoClient
  try {
    client = new MongoClient(options.url, { serverSelectionTimeoutMS: 5000, connectTimeoutMS: 5000 })
  } catch (error) {
    throw storeUrlRefused(BACKEND_NAME, options.url, DEFAULT_PORT, error)
  }
  try {
    const db = client.db()
    const wanted = [options.name, agendaLogCollection(options.name), ...Object.values(umsCollections(options.name))]
    let present: string[]
    try {
      present = (await db.listCollections({ name: { $in: wanted } }, { nameOnly: true }).toArray()).map((collection) => collection.name)
    } catch (error) {
      throw storeUnreachable(BACKEND_NAME, options.url, DEFAULT_PORT, error)
    }
    const removed: string[] = []
    for (const name of wanted.filter((candidate) => present.includes(candidate))) {
      await db.dropCollection(name)
      removed.push(`collection ${name}`)
    }
    return removed
  } finally {
    await client.close()
  }
}
