// `groups` on a CRUD user is what the platform's authorization reads from /userinfo, which the auth
// service takes from `app_metadata.groups`: every route that writes groups keeps the two equal.
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { expectConsistent } from '../helpers/consistency.js'
import { useStack, type StackHandle } from '../helpers/stack.js'
import { csvOf, uploadCsv } from '../helpers/upload.js'
import { waitForJob } from '../helpers/wait.js'
import { PASSWORD, seedUser } from './users-patch-helpers.js'

const CUSTOMER = { userGroup: 'customer', name: 'Mario', surname: 'Rossi' }

function crudUser(stack: StackHandle, userId: string): Record<string, unknown> {
  return stack.current.crud.documents(USERS_ENDPOINT).find((doc) => doc._id === userId)!
}

function authGroups(stack: StackHandle, userId: string): unknown {
  const authUserId = crudUser(stack, userId).authUserId as string
  return stack.current.auth0.getUser(authUserId)?.app_metadata?.groups
}

async function userinfoGroups(stack: StackHandle, username: string): Promise<unknown> {
  const login = await stack.call('POST', '/oauth/token', { json: { username, password: PASSWORD } })
  const userinfo = await stack.call('GET', '/userinfo', { headers: { authorization: `Bearer ${login.body.accessToken}` } })
  return userinfo.body.groups
}

describe('groups in the CRUD and app_metadata.groups in the auth service', () => {
  const stack = useStack({ env: { AUTH0_JOB_POLLING_INTERVAL: '50' } })

  it('POST /users/ creates the auth user with the groups, which /userinfo then shows', async () => {
    const created = await stack.call('POST', '/users/', { json: { ...CUSTOMER, username: 'mario', email: 'mario@example.com', password: PASSWORD, groups: ['customers', 'beta'] } })
    expect(created.status).toBe(200)
    const [sent] = stack.current.auth0.requestsTo('POST', '/users')
    expect(sent?.body).toMatchObject({ app_metadata: { groups: ['customers', 'beta'] } })
    expect(await userinfoGroups(stack, 'mario')).toEqual(['customers', 'beta'])
    expectConsistent(stack.current)
  })

  it('refuses groups that are not an array of strings', async () => {
    const answer = await stack.call('POST', '/users/', { json: { ...CUSTOMER, email: 'x@example.com', groups: [{ name: 'customers' }] } })
    expect(answer.status).toBe(400)
    expect(stack.current.auth0.requestsTo('POST', '/users')).toHaveLength(0)
  })

  it.each([
    ['$set', { $set: { groups: ['vip'] } }, ['vip']],
    ['$push', { $push: { groups: 'vip' } }, ['customers', 'vip']],
    ['$addToSet', { $addToSet: { groups: { $each: ['customers', 'vip'] } } }, ['customers', 'vip']],
    ['$pull', { $pull: { groups: 'customers' } }, []],
    ['$unset', { $unset: { groups: true } }, []],
    ['$push with $slice', { $push: { groups: { $each: ['a', 'b'], $slice: -2 } } }, ['a', 'b']],
  ])('PATCH /users/:id with %s writes the stored groups to the auth user', async (_operator, patch, expected) => {
    const { userId } = await seedUser(stack.current, { fields: { groups: ['customers'] } })
    const answer = await stack.call('PATCH', `/users/${userId}`, { json: patch })
    expect(answer.status).toBe(200)
    expect(authGroups(stack, userId)).toEqual(expected)
    expectConsistent(stack.current)
  })

  it('PATCH /users/:id leaves the auth user alone when the groups do not change', async () => {
    const { userId, authUserId } = await seedUser(stack.current, { fields: { groups: ['customers'] } })
    await stack.call('PATCH', `/users/${userId}`, { json: { $addToSet: { groups: 'customers' }, $set: { name: 'Luigi' } } })
    expect(stack.current.auth0.requestsTo('PATCH', `/users/${authUserId}`)).toHaveLength(0)
  })

  it('PATCH /users/:id puts the groups back in the CRUD when the auth service refuses the change', async () => {
    stack.current.auth0.seedUser({ email: 'taken@example.com', username: 'taken', password: PASSWORD })
    const { userId } = await seedUser(stack.current, { fields: { groups: ['customers'] } })
    const answer = await stack.call('PATCH', `/users/${userId}`, { json: { $set: { email: 'taken@example.com', groups: ['vip'] } } })
    expect(answer.status).toBe(409)
    expect(crudUser(stack, userId).groups).toEqual(['customers'])
    expect(authGroups(stack, userId)).toEqual(['customers'])
  })

  it('POST /users/with-id gives the existing auth user the CRUD user groups', async () => {
    const authUser = stack.current.auth0.seedUser({ email: 'luigi@example.com', username: 'luigi', password: PASSWORD, app_metadata: { groups: ['old'] } })
    const answer = await stack.call('POST', '/users/with-id', { json: { ...CUSTOMER, authUserId: authUser.user_id, email: 'luigi@example.com', groups: ['customers'] } })
    expect(answer.status).toBe(200)
    expect(stack.current.auth0.getUser(authUser.user_id)?.app_metadata?.groups).toEqual(['customers'])
    expectConsistent(stack.current)
  })

  it('POST /users/register creates the auth user with the CRUD user groups', async () => {
    const { userId } = await seedUser(stack.current, { auth: false, fields: { groups: ['customers'] } })
    const answer = await stack.call('POST', '/users/register', { json: { _id: userId, password: PASSWORD } })
    expect(answer.status).toBe(204)
    expect(authGroups(stack, userId)).toEqual(['customers'])
  })

  it('the CSV import writes the groups of the users it updates to their auth users', async () => {
    const { userId } = await seedUser(stack.current, { fields: { groups: ['customers'] } })
    const answer = await uploadCsv(stack.current.url, csvOf([['_id', 'userGroup', 'name', 'surname', 'groups'], [userId, 'customer', 'Mario', 'Rossi', '[customers, vip]']], ';'), { fields: { delimiter: ';' } })
    expect(answer.body).toMatchObject({ updated: [userId], invalid: [] })
    expect(authGroups(stack, userId)).toEqual(['customers', 'vip'])
    expectConsistent(stack.current)
  })

  it('the bulk activation imports the auth users with their groups', async () => {
    const [userId] = stack.current.crud.seed(USERS_ENDPOINT, [{ ...CUSTOMER, email: 'peach@example.com', groups: ['customers'] }])
    const created = await stack.call('POST', '/jobs/bulk-activation', { json: [{ filter: { userId } }] })
    const done = await waitForJob(stack.current.url, `/jobs/bulk-activation/${created.body.jobId}`)
    expect(done.body).toMatchObject({ status: 'completed', summary: { inserted: 1 } })
    expect(authGroups(stack, userId!)).toEqual(['customers'])
  })
})
