// Shared by the user creation tests (POST /users/, /users/with-id, /users/register): the user they
// create, the CRUD calls a fault targets, and the faults each step is made to answer.
import type { FastifyRequest } from 'fastify'
import type { FaultRule } from '../../src/sandbox/emulator-kit.js'

/** A valid `customer` with an auth user's email and username. */
export const MARIO = {
  userGroup: 'customer',
  name: 'Mario',
  surname: 'Rossi',
  email: 'mario.rossi@example.com',
  username: 'mario.rossi',
  roles: ['customer-basic', 'customer-premium'],
}

export const inOneHour = () => new Date(Date.now() + 3_600_000).toISOString()

/** A CRUD `PATCH /users/:id` whose `$set` names `field`. */
export const setting = (field: string) => (request: FastifyRequest) => {
  const body = request.body as { $set?: Record<string, unknown> } | undefined
  return typeof body?.$set === 'object' && body.$set !== null && field in body.$set
}
export const USER_BY_ID = /^\/users\/[^/]+$/

/** One peer call of a creation, made to fail. */
export interface Step {
  name: string
  peer: 'crud' | 'auth0' | 'rond' | 'timer'
  rule: FaultRule
  /** The failing call, as the error message names it. */
  call: string
}

/** What a failing step answers, and how the 500 message ends. */
export const FAULTS: Array<[string, Partial<FaultRule>, string]> = [
  ['500', { status: 500 }, 'responded with a 500 status code'],
  ['timeout', { hang: true }, 'failed: timeout after 300 ms'],
  ['reset', { reset: true }, 'failed: connection reset'],
]

/** Every step with every fault, for `it.each` (`$step.name answering $fault`). */
export function stepFaults<S extends Step>(steps: S[]) {
  return steps.flatMap((step) => FAULTS.map(([fault, rule, suffix]) => ({ step, fault, rule, suffix })))
}
