// The data the sandbox, the integration tests and the benchmarks start from: the CRUD collections
// ums uses (and Rönd's bindings), the `customer` group (with what its users may do themselves, and
// its sign-ups) and two roles.
import type { CrudCollectionDefinition } from './crud-emulator.js'

export const USERS_ENDPOINT = '/users'
export const UMS_CONFIG_ENDPOINT = '/ums-config'
export const ROLES_ENDPOINT = '/roles'
/** Where Rönd keeps its bindings (its BINDINGS_CRUD_SERVICE_URL), read by ums's reconciliation. */
export const BINDINGS_ENDPOINT = '/bindings'
export const AUTH_CONNECTION = 'Username-Password-Authentication'

const onlyWhenPresent = (field: string) => ({ [field]: { $exists: true } })

export const USERS_COLLECTION: CrudCollectionDefinition = {
  endpointBasePath: USERS_ENDPOINT,
  defaultState: 'PUBLIC',
  schema: {
    type: 'object',
    required: ['userGroup'],
    properties: {
      userGroup: { type: 'string' },
      authUserId: { type: 'string' },
      username: { type: 'string' },
      email: { type: 'string' },
      blocked: { type: 'boolean' },
      roles: { type: 'array', items: { type: 'string' } },
      expirationDate: { type: 'string', format: 'date-time' },
      expirationId: { type: 'string' },
      name: { type: 'string' },
      surname: { type: 'string' },
      age: { type: 'number' },
      tags: { type: 'array', items: { type: 'string' } },
      groups: { type: 'array', items: { type: 'string' } },
      consents: { type: 'object', additionalProperties: true },
    },
  },
  // Unique where present: users created only in the CRUD may lack username, email or authUserId.
  indexes: [
    { name: 'unique_email', unique: true, fields: [{ name: 'email', order: 1 }], partialFilterExpression: onlyWhenPresent('email') },
    { name: 'unique_username', unique: true, fields: [{ name: 'username', order: 1 }], partialFilterExpression: onlyWhenPresent('username') },
    { name: 'unique_authUserId', unique: true, fields: [{ name: 'authUserId', order: 1 }], partialFilterExpression: onlyWhenPresent('authUserId') },
  ],
}

export const UMS_CONFIG_COLLECTION: CrudCollectionDefinition = {
  endpointBasePath: UMS_CONFIG_ENDPOINT,
  defaultState: 'PUBLIC',
  schema: {
    type: 'object',
    required: ['userGroup', 'crudSchema'],
    properties: {
      userGroup: { type: 'string' },
      crudSchema: { type: 'object' },
      label: { type: 'string' },
      authUserCreationDisabled: { type: 'boolean' },
      selfService: { type: 'object', additionalProperties: true },
      selfRegistration: { type: 'object', additionalProperties: true },
    },
  },
  indexes: [{ name: 'unique_userGroup', unique: true, fields: [{ name: 'userGroup', order: 1 }] }],
}

export const ROLES_COLLECTION: CrudCollectionDefinition = {
  endpointBasePath: ROLES_ENDPOINT,
  defaultState: 'PUBLIC',
  schema: {
    type: 'object',
    required: ['roleId', 'name', 'permissions'],
    properties: {
      roleId: { type: 'string' },
      name: { type: 'string' },
      description: { type: 'string' },
      permissions: { type: 'array', items: { type: 'string' } },
    },
  },
  indexes: [{ name: 'unique_roleId', unique: true, fields: [{ name: 'roleId', order: 1 }] }],
}

export const CUSTOMER_GROUP = {
  userGroup: 'customer',
  label: 'Customers',
  authUserCreationDisabled: false,
  crudSchema: {
    type: 'object',
    required: ['name', 'surname'],
    properties: {
      name: { type: 'string', minLength: 1 },
      surname: { type: 'string', minLength: 1 },
      age: { type: 'number', minimum: 0 },
      tags: { type: 'array', items: { type: 'string' } },
      roles: { type: 'array', items: { type: 'string' } },
      email: { type: 'string', format: 'email' },
      username: { type: 'string' },
      blocked: { type: 'boolean' },
      expirationDate: { type: 'string', format: 'date-time' },
    },
  },
  selfService: {
    editableFields: ['name', 'surname', 'age', 'tags'],
    consents: [{ key: 'marketing', version: 1 }],
  },
  selfRegistration: {
    enabled: true,
    allowedEmailDomains: ['example.com'],
    defaultRoles: ['customer-basic'],
    defaultGroups: ['customers'],
  },
}

export const ROLES = [
  { roleId: 'customer-basic', name: 'Basic customer', description: 'Can browse and order', permissions: ['orders.read', 'orders.create', 'profile.update'] },
  { roleId: 'customer-premium', name: 'Premium customer', description: 'Basic plus priority support', permissions: ['orders.read', 'orders.priority', 'support.chat'] },
]

/** Rönd's bindings collection: default state PUBLIC, as Rönd's grant sends no `__STATE__`. */
export const BINDINGS_COLLECTION: CrudCollectionDefinition = {
  endpointBasePath: BINDINGS_ENDPOINT,
  defaultState: 'PUBLIC',
  schema: {
    type: 'object',
    required: ['bindingId'],
    properties: {
      bindingId: { type: 'string' },
      subjects: { type: 'array', items: { type: 'string' } },
      groups: { type: 'array', items: { type: 'string' } },
      roles: { type: 'array', items: { type: 'string' } },
      permissions: { type: 'array', items: { type: 'string' } },
      resource: { type: 'object', properties: { resourceType: { type: 'string' }, resourceId: { type: 'string' } } },
    },
  },
  indexes: [{ name: 'unique_bindingId', unique: true, fields: [{ name: 'bindingId', order: 1 }] }],
}
