// Every route of ums that reads a JSON body (src/routes/*.ts), with bodies it must refuse: random
// ones, invalid by construction, and templates holding a value (JSON text) at a free-form place.
import fc from 'fast-check'
import { anyJson, anyObject, fieldName, invalidObjects, notAnObject, without } from './hostile.js'

/** BULK_MAX_USERS of the hostile stacks: a list over it is cheap to send. */
export const BULK_MAX_USERS = 5

/** A `customer` (src/sandbox/fixtures.ts) the create routes accept. */
export const VALID_CUSTOMER = { userGroup: 'customer', name: 'Ada', surname: 'Lovelace', email: 'ada@example.com', username: 'ada' }

/** CRUD update operators ums supports (src/services/users/fields.ts) and ones it does not. */
const OPERATORS = ['$set', '$unset', '$inc', '$mul', '$currentDate', '$push', '$pull', '$addToSet'] as const
const UNSUPPORTED_OPERATORS = ['$rename', '$setOnInsert', '$min', '$max', '$bit', '$pop', '$pullAll', '$where', '$']
const READ_ONLY_FIELDS = ['authUserId', 'expirationId', '_id', '__STATE__']
const STATES = ['PUBLIC', 'DRAFT', 'TRASH', 'DELETED']

export interface JsonRoute {
  method: 'POST' | 'PATCH'
  /** The path; `userId` is an existing user's CRUD _id (PATCH /users/:id targets it). */
  path: (userId: string) => string
  /** A body the route accepts (sent in another content type, it must be refused). */
  valid: unknown
  /** Bodies the route must refuse. */
  invalid: fc.Arbitrary<unknown>
  /** A body refused whatever JSON text `value` is (it stands at a free-form or an extra field). */
  refusedHolding: (value: string) => string
  /**
   * A body the route would accept and pass on to a peer, but for `value` at a free-form place:
   * what a value nested too deep must not get through. Routes without free-form fields have none.
   */
  acceptedHolding?: (value: string) => string
}

/** A `customer` the group schema refuses: random fields, `surname` (required) left out. */
const customerWithoutSurname = anyObject.map((fields) => without({ ...fields, userGroup: 'customer', name: 'Ada' }, 'surname'))

/** A user group that is not a string (an object: ajv coerces scalars, never objects). */
const nonStringGroup = fc.tuple(anyObject, anyObject).map(([fields, group]) => ({ ...fields, userGroup: group }))

/** Patches ums refuses before writing: no operator, unknown operators, read-only or conflicting fields, a user the group refuses. */
const invalidPatch: fc.Arbitrary<unknown> = fc.oneof(
  notAnObject,
  fc.constant({}),
  fc.dictionary(fieldName.filter((name) => !name.startsWith('$')), anyJson, { minKeys: 1, maxKeys: 4 }),
  fc.tuple(fc.constantFrom(...UNSUPPORTED_OPERATORS), anyObject).map(([operator, fields]) => ({ [operator]: fields })),
  fc.tuple(fc.constantFrom(...OPERATORS), notAnObject).map(([operator, value]) => ({ [operator]: value })),
  fc.tuple(fc.constantFrom(...OPERATORS), fc.constantFrom(...READ_ONLY_FIELDS), fc.constantFrom('', '.x'), anyJson).map(([operator, field, suffix, value]) => ({
    [operator]: { [`${field}${suffix}`]: value },
  })),
  fc.tuple(fc.constantFrom('name', 'surname'), anyJson.filter((value) => typeof value !== 'string' || value === '')).map(([field, value]) => ({ $set: { [field]: value } })),
  fc.constantFrom('name', 'surname', 'userGroup').map((field) => ({ $unset: { [field]: true } })),
  fc.constantFrom('name', 'tags').map((field) => ({ $set: { [field]: 'x' }, $unset: { [field]: true } })),
)

/** `[{filter, stateTo}]` lists ums refuses. */
const invalidStateChanges: fc.Arbitrary<unknown> = fc.oneof(
  anyJson.filter((value) => !Array.isArray(value)),
  fc.constant([]),
  fc.array(invalidObjects({ valid: { filter: { name: 'Ada' }, stateTo: 'TRASH' }, required: ['filter', 'stateTo'], closed: true }), { minLength: 1, maxLength: 3 }),
  fc.tuple(anyObject, fc.string().filter((state) => !STATES.includes(state))).map(([filter, stateTo]) => [{ filter, stateTo }]),
)

/** `[{filter: {userId}}]` lists ums refuses: not a list, empty, an invalid item, over BULK_MAX_USERS. */
const invalidActivations: fc.Arbitrary<unknown> = fc.oneof(
  anyJson.filter((value) => !Array.isArray(value)),
  fc.constant([]),
  fc.tuple(
    fc.array(fc.constant({ filter: { userId: '000000000000000000000001' } }), { maxLength: 2 }),
    fc.oneof(
      invalidObjects({ valid: { filter: { userId: '000000000000000000000001' } }, required: ['filter'], closed: true }),
      invalidObjects({ valid: { userId: '000000000000000000000001' }, required: ['userId'], closed: true }).map((filter) => ({ filter })),
    ),
  ).map(([valid, invalid]) => [...valid, invalid]),
  fc.array(fc.string({ minLength: 1 }), { minLength: BULK_MAX_USERS + 1, maxLength: BULK_MAX_USERS + 5 }).map((ids) => ids.map((userId) => ({ filter: { userId } }))),
)

const invalidAuthUserIdLists: fc.Arbitrary<unknown> = fc.oneof(
  invalidObjects({ valid: { authUsersIds: ['auth0|1'] }, required: ['authUsersIds'], closed: true }),
  fc.constant({ authUsersIds: [] }),
  // Not a non-empty string, nor anything ajv coerces into one (a number, a list of one string).
  fc.array(fc.oneof(anyObject, fc.constant('')), { minLength: 1, maxLength: 3 }).map((authUsersIds) => ({ authUsersIds })),
  fc.array(fc.string({ minLength: 1 }), { minLength: BULK_MAX_USERS + 1, maxLength: BULK_MAX_USERS + 5 }).map((authUsersIds) => ({ authUsersIds })),
)

/** Reconcile options ums refuses; null left out (a bare POST is a dry run). */
const invalidReconcileOptions: fc.Arbitrary<unknown> = fc.oneof(
  notAnObject,
  fc.constant([{}]),
  fc.tuple(fc.constantFrom('dryRun', 'deleteOrphanAuthUsers'), anyObject).map(([field, value]) => ({ [field]: value })),
  fc.tuple(fieldName.filter((name) => name !== 'dryRun' && name !== 'deleteOrphanAuthUsers'), anyJson).map(([name, value]) => ({ dryRun: true, [name]: value })),
)

export const JSON_ROUTES: Record<string, JsonRoute> = {
  'POST /users/': {
    method: 'POST',
    path: () => '/users/',
    valid: { ...VALID_CUSTOMER, email: 'grace@example.com', username: 'grace' },
    invalid: fc.oneof(invalidObjects({ valid: VALID_CUSTOMER, required: ['userGroup'], closed: false }), customerWithoutSurname, nonStringGroup),
    refusedHolding: (value) => `{"userGroup":"customer","name":"Ada","notes":${value}}`,
    acceptedHolding: (value) => `{"userGroup":"customer","name":"Ada","surname":"Lovelace","notes":${value}}`,
  },
  'POST /users/with-id': {
    method: 'POST',
    path: () => '/users/with-id',
    valid: { ...VALID_CUSTOMER, authUserId: 'auth0|nobody' },
    invalid: fc.oneof(
      invalidObjects({ valid: { ...VALID_CUSTOMER, authUserId: 'auth0|nobody' }, required: ['userGroup', 'authUserId'], closed: false }),
      customerWithoutSurname.map((user) => ({ ...user, authUserId: 'auth0|nobody' })),
    ),
    refusedHolding: (value) => `{"userGroup":"customer","authUserId":"auth0|nobody","name":"Ada","notes":${value}}`,
  },
  'POST /users/register': {
    method: 'POST',
    path: () => '/users/register',
    valid: { _id: '000000000000000000000001' },
    invalid: invalidObjects({ valid: { _id: '000000000000000000000001', password: 'Secret-123' }, required: ['_id'], closed: true }),
    refusedHolding: (value) => `{"_id":"000000000000000000000001","extra":${value}}`,
  },
  'PATCH /users/:id': {
    method: 'PATCH',
    path: (userId) => `/users/${userId}`,
    valid: { $set: { name: 'Grace' } },
    invalid: invalidPatch,
    refusedHolding: (value) => `{"$set":{"name":"","notes":${value}}}`,
    acceptedHolding: (value) => `{"$set":{"name":"Ada","notes":${value}}}`,
  },
  'POST /users/state': {
    method: 'POST',
    path: () => '/users/state',
    valid: [{ filter: {}, stateTo: 'TRASH' }],
    invalid: invalidStateChanges,
    refusedHolding: (value) => `[{"filter":{"name":${value}},"stateTo":"GONE"}]`,
    acceptedHolding: (value) => `[{"filter":{"name":${value}},"stateTo":"TRASH"}]`,
  },
  'POST /users/change-password': {
    method: 'POST',
    path: () => '/users/change-password',
    valid: { authUserId: 'auth0|1' },
    invalid: invalidObjects({ valid: { authUserId: 'auth0|1' }, required: ['authUserId'], closed: true }),
    refusedHolding: (value) => `{"authUserId":"auth0|1","extra":${value}}`,
  },
  'POST /oauth/token': {
    method: 'POST',
    path: () => '/oauth/token',
    valid: { username: 'ada', password: 'Secret-123' },
    invalid: invalidObjects({ valid: { username: 'ada', password: 'Secret-123' }, required: ['username', 'password'], closed: true }),
    refusedHolding: (value) => `{"username":"ada","password":"Secret-123","extra":${value}}`,
  },
  'POST /refreshtoken': {
    method: 'POST',
    path: () => '/refreshtoken',
    valid: { refreshToken: 'r-1' },
    invalid: invalidObjects({ valid: { refreshToken: 'r-1' }, required: ['refreshToken'], closed: true }),
    refusedHolding: (value) => `{"refreshToken":"r-1","extra":${value}}`,
  },
  'POST /jobs/bulk-activation': {
    method: 'POST',
    path: () => '/jobs/bulk-activation',
    valid: [{ filter: { userId: '000000000000000000000001' } }],
    invalid: invalidActivations,
    refusedHolding: (value) => `[{"filter":{"userId":"000000000000000000000001","extra":${value}}}]`,
  },
  'POST /jobs/change-password/bulk': {
    method: 'POST',
    path: () => '/jobs/change-password/bulk',
    valid: { authUsersIds: ['auth0|1'] },
    invalid: invalidAuthUserIdLists,
    refusedHolding: (value) => `{"authUsersIds":["auth0|1"],"extra":${value}}`,
  },
  'POST /jobs/reconcile': {
    method: 'POST',
    path: () => '/jobs/reconcile',
    valid: { dryRun: false, deleteOrphanAuthUsers: true },
    invalid: invalidReconcileOptions,
    refusedHolding: (value) => `{"dryRun":true,"extra":${value}}`,
  },
}

export const JSON_ROUTE_NAMES = Object.keys(JSON_ROUTES)
