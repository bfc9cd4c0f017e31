// The facade's types, each taken from the generated document types (openapi.ts): none is written by
// hand, so a change of a route schema changes them at the next `npm run sdk:generate`.
import type { operations } from './openapi.js'

type Operation = operations[keyof operations]
/** The JSON body of an operation's `status` answer. */
export type AnswerOf<Op extends Operation, Status extends keyof Op['responses']> = Op['responses'][Status] extends { content: { 'application/json': infer Body } } ? Body : never
/** The JSON request body of an operation. */
export type BodyOf<Op extends Operation> = NonNullable<Op['requestBody']> extends { content: { 'application/json': infer Body } } ? Body : never
/** The query parameters of an operation. */
export type QueryOf<Op extends Operation> = NonNullable<Op['parameters']['query']>

/** A user as the CRUD stores it (its fields depend on the group's schema). */
export type User = AnswerOf<operations['getUser'], 200>
/** The CRUD query parameters of the list, count and read routes (`_q`, `_st`, `_p`, `_l`, `_sk`, `_s`). */
export type CrudQuery = QueryOf<operations['listUsers']>
/** CrudQuery whose `_q` may also be the filter object itself (sent as its JSON). */
export type UsersQuery = Omit<CrudQuery, '_q'> & { _q?: CrudQuery['_q'] | Record<string, unknown> }
export type NewUser = BodyOf<operations['createUser']>
export type CreateUserOptions = QueryOf<operations['createUser']>
export type CreatedUser = AnswerOf<operations['createUser'], 200>
/** CRUD update operators: `$set`, `$unset`, `$push`, ... */
export type UserPatch = BodyOf<operations['updateUser']>
export type StateChanges = BodyOf<operations['changeUsersState']>
export type UserState = StateChanges[number]['stateTo']
export type ImportResult = AnswerOf<operations['importUsers'], 200>
/** The option fields of the import's multipart form (the file aside). */
export type ImportFields = Omit<NonNullable<operations['importUsers']['requestBody']>['content']['multipart/form-data'], 'file'>

export type Credentials = BodyOf<operations['login']>
/** The session tokens (token mode); `{}` in website mode, where the session comes as a cookie. */
export type Tokens = AnswerOf<operations['login'], 200>
export type Userinfo = AnswerOf<operations['getUserinfo'], 200>

export type BulkActivationBody = BodyOf<operations['startBulkActivation']>
export type BulkActivationOptions = QueryOf<operations['startBulkActivation']>
export type ReconcileOptions = BodyOf<operations['startReconcile']>
/** The 202 answer of every job start. */
export type AcceptedJob = AnswerOf<operations['startBulkActivation'], 202>

/** What each job kind reads back as, pending or ended. */
export interface Jobs {
  'bulk-activation': AnswerOf<operations['getBulkActivation'], 200>
  'change-password': AnswerOf<operations['getChangePasswordBulk'], 200>
  reconcile: AnswerOf<operations['getReconcile'], 200>
}
export type JobKind = keyof Jobs
export type Job<K extends JobKind = JobKind> = Jobs[K]
export const JOB_KINDS: readonly JobKind[] = ['bulk-activation', 'change-password', 'reconcile']

/** The self-service update: `$set` and `$unset` of the fields the group lets its users edit. */
export type SelfPatch = BodyOf<operations['updateMe']>
export type PasswordChange = BodyOf<operations['changeMyPassword']>
/** The consents of the user's group, with the user's answers. */
export type Consents = AnswerOf<operations['listMyConsents'], 200>

/** A sign-up: `userGroup`, `email`, optional `username` and `password`, and the group's editable profile fields. */
export type SelfRegistration = BodyOf<operations['selfRegister']>
export type RegistrationAccepted = AnswerOf<operations['selfRegister'], 202>
