// Job routes: start a bulk job (202 with the pending job) and read it back, from any replica.
import type { FastifyReply } from 'fastify'
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts'
import { HttpError } from '../errors/index.js'
import type { JobEngine } from '../jobs/engine.js'
import type { JobKind, JobRecord } from '../jobs/store.js'
import { submitChangePasswordBulk } from '../services/change-password-bulk/index.js'
import { submitBulkActivation } from '../services/bulk-activation/index.js'
import { CHECKS } from '../services/reconcile/checks.js'
import { submitReconcile } from '../services/reconcile/index.js'
import { changePasswordBulkBody, reconcileBody, type ReconcileBody } from '../schemas/jobs.js'
import { errorResponses } from './schemas.js'

const tags = ['Jobs']
const jobIdParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } } as const

const createdJob = {
  type: 'object',
  required: ['jobId', 'status', 'jobCreatedAt'],
  properties: { jobId: { type: 'string', format: 'uuid' }, status: { type: 'string', enum: ['pending'] }, jobCreatedAt: { type: 'string', format: 'date-time' } },
} as const

/**
 * Response schema of a job read: the common fields, progress (with the kind's own figures, if
 * any), and the kind's result fields.
 */
function jobStatusSchema(statuses: readonly string[], resultProperties: Record<string, unknown>, progressFigures: Record<string, unknown> = {}) {
  return {
    type: 'object',
    required: ['jobId', 'status', 'jobCreatedAt'],
    properties: {
      jobId: { type: 'string' },
      status: { type: 'string', enum: statuses },
      jobCreatedAt: { type: 'string' },
      progress: { type: 'object', properties: { done: { type: 'integer' }, total: { type: 'integer' }, ...progressFigures } },
      ...resultProperties,
    },
  }
}

/** 202 with the pending job, the same for every kind. */
function acceptedJob(reply: FastifyReply, job: JobRecord) {
  return reply.code(202).send({ jobId: job.jobId, status: job.status, jobCreatedAt: job.jobCreatedAt })
}

/** A job as clients see it: progress while pending, the result once completed. */
export function jobView(job: JobRecord): Record<string, unknown> {
  const base = { jobId: job.jobId, status: job.status, jobCreatedAt: job.jobCreatedAt }
  if (job.status === 'pending') return job.progress ? { ...base, progress: job.progress } : base
  if (job.status === 'completed' && typeof job.result === 'object' && job.result !== null) return { ...base, ...job.result }
  return base
}

async function readJob(engine: JobEngine, kind: JobKind, jobId: string): Promise<Record<string, unknown>> {
  const job = await engine.get(kind, jobId)
  if (!job) throw new HttpError(404, `Job ${jobId} not found`, 'UMS_JOB_NOT_FOUND')
  return jobView(job)
}

const activationFailure = {
  type: 'object',
  properties: {
    userId: { type: 'string', description: 'CRUD _id' },
    errors: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } },
  },
} as const

export const jobRoutes: FastifyPluginAsyncJsonSchemaToTs = async (app) => {
  const { jobEngine: engine, config } = app

  app.post('/jobs/bulk-activation', {
    schema: {
      tags,
      operationId: 'startBulkActivation',
      summary: 'Start a job creating the auth users of CRUD users through auth bulk imports',
      description:
        'Users are read in any state (those outside PUBLIC, or blocked, get a blocked auth user); users that already have an authUserId are skipped; duplicates are removed.',
      body: {
        type: 'array',
        minItems: 1,
        maxItems: config.bulkMaxUsers,
        items: {
          type: 'object',
          required: ['filter'],
          properties: {
            filter: {
              type: 'object',
              required: ['userId'],
              properties: { userId: { type: 'string', minLength: 1, description: 'CRUD _id' } },
              additionalProperties: false,
            },
          },
          additionalProperties: false,
        },
      } as const,
      querystring: {
        type: 'object',
        properties: { upsert: { type: 'boolean', default: true, description: 'false: a user whose email already exists in the auth service fails instead of being updated' } },
      } as const,
      response: { 202: createdJob, ...errorResponses(400, 503) },
    },
  }, async (request, reply) => {
    const userIds = request.body.map((item) => item.filter.userId)
    return acceptedJob(reply, await submitBulkActivation(engine, userIds, request.query.upsert, request.callContext))
  })

  app.get('/jobs/bulk-activation/:id', {
    schema: {
      tags,
      operationId: 'getBulkActivation',
      summary: 'Status and result of a bulk-activation job',
      params: jobIdParams,
      response: {
        200: jobStatusSchema(['pending', 'completed', 'failed'], {
          summary: {
            type: 'object',
            properties: {
              failed: { type: 'integer' },
              updated: { type: 'integer' },
              inserted: { type: 'integer' },
              total: { type: 'integer', description: 'failed + updated + inserted' },
              skipped: { type: 'integer', description: 'users that already had an authUserId (not in total)' },
            },
          },
          failures: { type: 'array', items: activationFailure },
        }),
        ...errorResponses(404, 503),
      },
    },
  }, async (request) => readJob(engine, 'bulk-activation', request.params.id))

  app.post('/jobs/change-password/bulk', {
    schema: {
      tags,
      operationId: 'startChangePasswordBulk',
      summary: 'Start a job sending the change-password email to each auth user, at the configured rate',
      body: changePasswordBulkBody(config.bulkMaxUsers),
      response: { 202: createdJob, ...errorResponses(400, 503) },
    },
  }, async (request, reply) => {
    return acceptedJob(reply, await submitChangePasswordBulk(engine, request.body, request.callContext))
  })

  app.get('/jobs/change-password/bulk/:id', {
    schema: {
      tags,
      operationId: 'getChangePasswordBulk',
      summary: 'Status and result of a change-password job',
      params: jobIdParams,
      response: {
        200: jobStatusSchema(['pending', 'completed'], {
          summary: { type: 'object', properties: { failed: { type: 'integer' }, completed: { type: 'integer' }, total: { type: 'integer' } } },
          completed: { type: 'array', items: { type: 'object', properties: { authUserId: { type: 'string' } } } },
          failures: { type: 'array', items: { type: 'object', properties: { authUserId: { type: 'string' }, message: { type: 'string' } } } },
        }),
        ...errorResponses(404, 503),
      },
    },
  }, async (request) => readJob(engine, 'change-password', request.params.id))

  app.post('/jobs/reconcile', {
    // A bare POST is a dry run with the defaults.
    preValidation: async (request) => {
      request.body ??= {} as ReconcileBody
    },
    schema: {
      tags,
      operationId: 'startReconcile',
      summary: 'Start a job finding, and unless dryRun repairing, users inconsistent between the CRUD, the auth service and the Timer Service',
      description:
        'Reads every CRUD user (all states) with its auth user, then every auth user of the connection. Repairs remove access first and follow the CRUD; auth users no CRUD user points to are only reported unless deleteOrphanAuthUsers.',
      body: reconcileBody,
      response: { 202: createdJob, ...errorResponses(400, 503) },
    },
  }, async (request, reply) => acceptedJob(reply, await submitReconcile(engine, request.body, request.callContext)))

  const finding = {
    type: 'object',
    properties: {
      check: { type: 'string', enum: CHECKS },
      crudId: { type: 'string' },
      authUserId: { type: 'string' },
      fields: { type: 'array', items: { type: 'string' } },
      roles: {
        type: 'object',
        description: 'roles-mismatch: the CRUD roles Rönd does not bind (missing) and the roles it binds that the CRUD user lacks (unexpected)',
        properties: { missing: { type: 'array', items: { type: 'string' } }, unexpected: { type: 'array', items: { type: 'string' } } },
      },
      action: { type: 'string', enum: ['reported', 'repaired', 'repair-failed', 'skipped-recent'] },
    },
  } as const

  app.get('/jobs/reconcile/:id', {
    schema: {
      tags,
      operationId: 'getReconcile',
      summary: 'Status and report of a reconciliation job',
      params: jobIdParams,
      response: {
        200: jobStatusSchema(['pending', 'completed', 'failed'], {
          dryRun: { type: 'boolean' },
          summary: {
            type: 'object',
            properties: {
              usersChecked: { type: 'integer' },
              authUsersChecked: { type: 'integer' },
              found: { type: 'object', properties: Object.fromEntries(CHECKS.map((check) => [check, { type: 'integer' }])) },
              repaired: { type: 'integer' },
              repairFailed: { type: 'integer' },
            },
          },
          findings: { type: 'array', items: finding },
          findingsTruncated: { type: 'boolean' },
        }, {
          pagesRead: { type: 'integer', description: 'pages of CRUD users, then of auth users, read so far' },
          findings: { type: 'integer', description: 'inconsistencies found so far' },
        }),
        ...errorResponses(404, 503),
      },
    },
  }, async (request) => readJob(engine, 'reconcile', request.params.id))
}
