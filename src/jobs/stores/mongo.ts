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
import { storeUnreachable } from './errors.js'

const BACKEND_NAME = 'MongoDB'
const DEFAULT_PORT = 27017
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

export function openMongoJobStore(options: DurableJobStoreOptions): DurableJobStore {
  const now = options.now ?? Date.now
  const client = new MongoClient(options.url, { serverSelectionTimeoutMS: 5000, connectTimeoutMS: 5000 })
  // The handle is lazy: it is usable once the client connects, which `connect()` does first.
  const db: Db = client.db()
  const records: Collection<RecordDocument> = db.collection<RecordDocument>(`${options.name}.records`)
  const checkpoints: Collection<CheckpointDocument> = db.collection<CheckpointDocument>(`${options.name}.checkpoints`)
  const leases: Collection<LeaseDocument> = db.collection<LeaseDocument>(`${options.name}.leases`)
  const agendaBackend = new MongoBackend({ mongo: db, collection: options.name })
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
      await records.updateOne({ _id: jobId, status: 'pending' }, { $set: { progress: { done: progress.done, total: progress.total } } })
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
