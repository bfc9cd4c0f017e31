// The @fastify/env schema of every variable: the one place that describes each (README's table and
// .env.example are generated from it), and the type of the environment it validates.
import { PASSWORD_POLICIES } from '../lib/password-policy.js'

export const ENV_SCHEMA = {
  type: 'object',
  required: ['AUTH_SERVICE', 'AUTH_CONNECTION', 'USERS_CRUD_ENDPOINT', 'UMS_CONFIG_CRUD_ENDPOINT'],
  properties: {
    HTTP_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 3000, description: 'listening port' },
    LOG_LEVEL: { type: 'string', enum: ['error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', description: 'log level: `error`, `warn`, `info`, `debug`, `trace` or `silent`' },
    WAIT_BEFORE_SERVER_CLOSE_SEC: { type: 'number', minimum: 0, default: 10, description: 'delay between SIGTERM (or SIGINT) and closing the server (requests are served meanwhile; running jobs are handed over at once)' },
    AUTH_MODULE: { type: 'string', minLength: 1, default: 'auth0Client', description: 'auth provider module; an unknown one stops start-up listing the known ones' },
    AUTH_SERVICE: { type: 'string', minLength: 1, examples: ['auth0-client'], description: 'the Auth0 Client service' },
    AUTH_CONNECTION: { type: 'string', minLength: 1, examples: ['Username-Password-Authentication'], description: 'auth connection, e.g. `Username-Password-Authentication`' },
    CRUD_SERVICE: { type: 'string', minLength: 1, default: 'crud-service', description: 'the CRUD Service' },
    USERS_CRUD_ENDPOINT: { type: 'string', pattern: '^/', examples: ['/users'], description: 'users collection path, e.g. `/users`' },
    UMS_CONFIG_CRUD_ENDPOINT: { type: 'string', pattern: '^/', examples: ['/ums-config'], description: 'group configuration collection path, e.g. `/ums-config`' },
    ROLES_CRUD_ENDPOINT: { type: 'string', pattern: '^/', examples: ['/roles'], description: 'roles collection path (permissions in `/userinfo`)' },
    BINDINGS_CRUD_ENDPOINT: { type: 'string', pattern: '^/', examples: ['/bindings'], description: 'the CRUD path of the bindings collection Rönd writes (its `BINDINGS_CRUD_SERVICE_URL`): with `ROND_ENABLED`, reconciliation compares each user\'s bindings with its `roles`' },
    ROND_ENABLED: { type: 'boolean', default: false, description: 'grant/revoke roles through Rönd' },
    ROND_SERVICE: { type: 'string', minLength: 1, default: 'rond-service', description: 'the Rönd service' },
    TIMER_SERVICE: { type: 'string', minLength: 1, examples: ['timer-service'], description: 'Timer Service; without it `expirationDate` is stored but nothing is scheduled' },
    TIMER_SERVICE_HEADERS: { type: 'string', default: '', examples: ['client-type,secret'], description: 'comma list of incoming header names replayed on the expiry callback' },
    UMS_SERVICE: { type: 'string', minLength: 1, default: 'user-manager-service', description: 'how the Timer Service reaches this service for the expiry callback' },
    UPSTREAM_TIMEOUT_MS: { type: 'integer', minimum: 1, default: 10000, description: 'timeout of every call to a peer' },
    RANDOM_PWD_GEN: { type: 'boolean', default: true, description: 'generate passwords' },
    RANDOM_PWD_LENGTH: { type: 'integer', minimum: 8, maximum: 128, default: 8, description: 'length of generated passwords (8–128)' },
    AUTH_HARD_DELETE: { type: 'boolean', default: true, description: 'delete the auth user on delete/DELETED; `false` blocks it' },
    CUSTOM_USER_ID_KEY: { type: 'string', minLength: 1, default: 'sub', description: 'key of the user id in the auth `/userinfo` answer' },
    USERINFO_ADDITIONAL_PROPERTIES: { type: 'string', examples: ['name,surname,permissions'], description: 'CRUD properties added to `/userinfo`: unset = all, empty = none, else a comma list (`permissions` adds the roles\' permissions)' },
    CONFIGURATION_PATH: { type: 'string', minLength: 1, examples: ['/home/node/app/config/auth-properties.json'], description: 'JSON file `{"user_id": string, "additionalProperties": string[]}`: auth properties merged into `GET /users/`' },
    USER_IMPORT_BATCH_SIZE: { type: 'integer', minimum: 1, maximum: 10000, default: 250, description: 'rows per CRUD bulk call in the CSV import' },
    USER_IMPORT_MAX_FILE_SIZE: { type: 'integer', minimum: 1, default: 1048576, description: 'CSV upload limit in bytes (413 above it)' },
    AUTH0_JOB_POLLING_INTERVAL: { type: 'string', minLength: 1, default: '2 minutes', description: 'poll period of activation jobs: ms, `N seconds|minutes|hours`, or cron' },
    AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: { type: 'number', exclusiveMinimum: 0, default: 2, description: 'pace of the change-password job' },
    BULK_MAX_USERS: { type: 'integer', minimum: 1, default: 10000, description: 'users per bulk-activation or change-password request' },
    JOBS_TTL_MS: { type: 'integer', minimum: 1, default: 86400000, description: 'finished jobs are kept this long (in the job store too)' },
    JOBS_STORE_URL: { type: 'string', minLength: 1, examples: ['postgres://ums:secret@postgres:5432/ums'], description: 'the job store shared by the replicas: `postgres://`/`postgresql://`, `redis://`/`rediss://`, `mongodb://`/`mongodb+srv://`; unset (and no `MONGODB_URL`): jobs in memory' },
    MONGODB_URL: { type: 'string', minLength: 1, examples: ['mongodb://mongo:27017/ums'], description: 'the original\'s name for a MongoDB job store, used when `JOBS_STORE_URL` is unset (in Mia projects, the CRUD Service\'s database)' },
    JOBS_COLLECTION_NAME: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,39}$', default: 'userManagerJobs', description: 'the job store\'s collection, table or key prefix (letters, digits, `_`; at most 40)' },
    SELF_REGISTRATION_RATE_LIMIT_PER_MINUTE: { type: 'integer', minimum: 1, default: 10, description: 'sign-ups (`POST /users/self-register`) one client address may send per minute; then 429 with `retry-after`. Counted in the job store\'s Redis when `JOBS_STORE_URL` is `redis://` (shared by the replicas), else in each replica\'s memory' },
    SELF_REGISTRATION_MIN_DURATION_MS: { type: 'integer', minimum: 0, default: 500, description: 'a sign-up is answered no sooner than this, so that the time does not tell a new account from an existing one' },
    SELF_REGISTRATION_PASSWORD_POLICY: { type: 'string', enum: PASSWORD_POLICIES, default: 'fair', description: 'the auth connection\'s password policy, by its Auth0 name (`none`, `low`, `fair`, `good`, `excellent`): a sign-up\'s password is checked against it first, so that a weak one gets the same 400 whether or not its address has an account. Set it to the connection\'s' },
    TRUSTED_PROXIES: { type: 'string', examples: ['10.0.0.0/8,127.0.0.1'], description: 'comma list of addresses or CIDR ranges of the proxies in front of ums: only from them is `x-forwarded-for` read for the client address (rate limit, logs); unset: the connection\'s address' },
    GROUP_CONFIG_CACHE_TTL_MS: { type: 'integer', minimum: 0, default: 5000, description: 'a change to a group in ums-config takes effect within this time; 0 reads the group on every call' },
    RECONCILE_RECENT_WINDOW_MS: { type: 'integer', minimum: 0, default: 300000, description: 'reconciliation leaves alone a user changed (or an auth user created) this recently: it may be an operation under way; 0 when nothing else writes' },
    JOBS_LOCK_LIFETIME_MS: { type: 'integer', minimum: 1000, default: 60000, description: 'a replica\'s lock on a job lasts this long unless renewed (it is renewed every quarter of it): a crashed replica\'s jobs are taken over after it' },
    USERID_HEADER_KEY: { type: 'string', minLength: 1, default: 'miauserid', description: 'name of the header with the caller\'s user id' },
    USER_PROPERTIES_HEADER_KEY: { type: 'string', minLength: 1, default: 'miauserproperties', description: 'name of the header with the caller\'s properties (JSON)' },
    GROUPS_HEADER_KEY: { type: 'string', minLength: 1, default: 'miausergroups', description: 'name of the header with the caller\'s groups' },
    CLIENTTYPE_HEADER_KEY: { type: 'string', minLength: 1, default: 'client-type', description: 'name of the header with the client type' },
    BACKOFFICE_HEADER_KEY: { type: 'string', minLength: 1, default: 'isbackoffice', description: 'name of the backoffice flag header' },
    MICROSERVICE_GATEWAY_SERVICE_NAME: { type: 'string', minLength: 1, default: 'microservice-gateway', description: 'host name of the microservice gateway' },
    ADDITIONAL_HEADERS_TO_PROXY: { type: 'string', default: '', examples: ['cookie,authorization,client-type'], description: 'comma list of extra incoming headers forwarded to every peer (any case)' },
    SERVICE_PREFIX: {
      type: 'string',
      pattern: '^/$|^(/[a-z0-9-]+)+/?$',
      default: '/',
      description: "prefix of the service's routes: `/` or lowercase `a-z0-9-` segments; the status routes and the documentation are never prefixed",
    },
    EXPOSE_METRICS: { type: 'boolean', default: true, description: 'serve Prometheus metrics at `/-/metrics`' },
    EXPOSE_DOCUMENTATION: { type: 'boolean', default: true, description: 'serve the OpenAPI document and Swagger UI under `/documentation`' },
    ENABLE_TRACING: { type: 'boolean', default: false, description: 'OpenTelemetry tracing of requests and peer calls, configured by the `OTEL_*` variables' },
    OTEL_SERVICE_NAME: { type: 'string', minLength: 1, description: 'with `ENABLE_TRACING`: the service name of the spans (default `ums`)' },
    OTEL_RESOURCE_ATTRIBUTES: { type: 'string', examples: ['deployment.environment=production'], description: 'with `ENABLE_TRACING`: extra attributes of every span\'s resource, a comma list of `key=value`' },
    OTEL_TRACES_EXPORTER: { type: 'string', pattern: '^(otlp|zipkin|console|none)(,(otlp|zipkin|console|none))*$', default: 'otlp', description: 'with `ENABLE_TRACING`: where spans go, a comma list of `otlp`, `zipkin`, `console`; `none` sends them nowhere' },
    OTEL_EXPORTER_OTLP_ENDPOINT: { type: 'string', minLength: 1, examples: ['http://otel-collector:4318'], description: 'with `ENABLE_TRACING`: base URL of the OTLP collector (default `http://localhost:4318`, port 4317 with `grpc`)' },
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: { type: 'string', minLength: 1, examples: ['http://otel-collector:4318/v1/traces'], description: 'with `ENABLE_TRACING`: full URL of the OTLP traces endpoint, taken as is; wins over `OTEL_EXPORTER_OTLP_ENDPOINT`' },
    OTEL_EXPORTER_OTLP_PROTOCOL: { type: 'string', enum: ['http/protobuf', 'http/json', 'grpc'], default: 'http/protobuf', description: 'with `ENABLE_TRACING`: OTLP transport: `http/protobuf`, `http/json` or `grpc`' },
    OTEL_EXPORTER_OTLP_HEADERS: { type: 'string', examples: ['authorization=Bearer <token>'], description: 'with `ENABLE_TRACING`: headers of the calls to the collector, a comma list of `key=value` (may hold credentials)' },
    OTEL_PROPAGATORS: { type: 'string', pattern: '^(tracecontext|baggage|b3|b3multi|jaeger|none)(,(tracecontext|baggage|b3|b3multi|jaeger|none))*$', default: 'tracecontext,baggage', description: 'with `ENABLE_TRACING`: trace context formats read from requests and written on peer calls (with tracing off, `traceparent` and `tracestate` are forwarded as received)' },
    OTEL_TRACES_SAMPLER: { type: 'string', enum: ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'], default: 'parentbased_always_on', description: 'with `ENABLE_TRACING`: which traces are recorded; `parentbased_*` follow the caller\'s decision' },
    OTEL_TRACES_SAMPLER_ARG: { type: 'number', minimum: 0, maximum: 1, description: 'with `ENABLE_TRACING`: the ratio of the `traceidratio` samplers (default 1)' },
    OTEL_EXPORTER_OTLP_TIMEOUT: { type: 'integer', minimum: 0, default: 10000, description: 'with `ENABLE_TRACING`: milliseconds one export to the collector may take, retries included; at shutdown the last spans wait this long at most' },
  },
} as const

type Schema = typeof ENV_SCHEMA
type Props = Schema['properties']
type JsonType<P> = P extends { enum: readonly (infer Value)[] } ? Value : P extends { type: 'integer' | 'number' } ? number : P extends { type: 'boolean' } ? boolean : string
type WithDefault = { [K in keyof Props]: Props[K] extends { default: unknown } ? K : never }[keyof Props]
type Required = Schema['required'][number]

/** The environment as validated by the schema: defaults applied, strings coerced. */
export type RawEnv = { [K in WithDefault | Required]: JsonType<Props[K]> } & {
  [K in Exclude<keyof Props, WithDefault | Required>]?: JsonType<Props[K]>
}
