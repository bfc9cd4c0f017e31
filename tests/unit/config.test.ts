import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, parsePollingInterval, serviceUrl } from '../../src/config/index.js'

const REQUIRED = {
  AUTH_SERVICE: 'auth0-client',
  AUTH_CONNECTION: 'Username-Password-Authentication',
  USERS_CRUD_ENDPOINT: '/users',
  UMS_CONFIG_CRUD_ENDPOINT: '/ums-config',
}

const load = (env: Record<string, string | undefined>) => loadConfig({ ...REQUIRED, ...env }, { useProcessEnv: false })

describe('loadConfig', () => {
  it('applies every documented default', async () => {
    const config = await load({})
    expect(config).toMatchObject({
      httpPort: 3000,
      logLevel: 'info',
      authModule: 'auth0Client',
      authConnection: 'Username-Password-Authentication',
      endpoints: { users: '/users', umsConfig: '/ums-config', roles: undefined },
      rondEnabled: false,
      timerServiceHeaders: [],
      randomPasswordGeneration: true,
      randomPasswordLength: 8,
      authHardDelete: true,
      customUserIdKey: 'sub',
      userinfoAdditionalProperties: undefined,
      authProperties: undefined,
      userImportBatchSize: 250,
      userImportMaxFileSize: 1048576,
      auth0JobPollingInterval: { kind: 'interval', ms: 120_000 },
      changePasswordRatePerSecond: 2,
      bulkMaxUsers: 10000,
      jobsTtlMs: 86400000,
      upstreamTimeoutMs: 10000,
      waitBeforeServerCloseMs: 10000,
      headerKeys: { userId: 'miauserid', userProperties: 'miauserproperties', groups: 'miausergroups', clientType: 'client-type', backoffice: 'isbackoffice' },
      additionalHeadersToProxy: [],
    })
    expect(config.services.crud.href).toBe('http://crud-service/')
    expect(config.services.auth.href).toBe('http://auth0-client/')
    expect(config.services.rond.href).toBe('http://rond-service/')
    expect(config.services.ums.href).toBe('http://user-manager-service/')
    expect(config.services.timer).toBeUndefined()
  })

  it('coerces strings to numbers and booleans', async () => {
    const config = await load({ HTTP_PORT: '8080', ROND_ENABLED: 'true', AUTH_HARD_DELETE: 'false', RANDOM_PWD_LENGTH: '16', UPSTREAM_TIMEOUT_MS: '250' })
    expect(config).toMatchObject({ httpPort: 8080, rondEnabled: true, authHardDelete: false, randomPasswordLength: 16, upstreamTimeoutMs: 250 })
  })

  it.each([
    ['crud-service', 'http://crud-service/'],
    ['http://127.0.0.1:3001', 'http://127.0.0.1:3001/'],
    ['https://crud.example.com/prefix/', 'https://crud.example.com/prefix'],
  ])('accepts the service value %s', async (value, href) => {
    const config = await load({ CRUD_SERVICE: value, TIMER_SERVICE: value })
    expect(config.services.crud.href).toBe(href)
    expect(config.services.timer?.href).toBe(href)
  })

  it.each(['AUTH_SERVICE', 'AUTH_CONNECTION', 'USERS_CRUD_ENDPOINT', 'UMS_CONFIG_CRUD_ENDPOINT'])(
    'stops with one line naming the missing %s',
    async (variable) => {
      const error = await load({ [variable]: undefined }).catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as Error).message).toContain(variable)
      expect((error as Error).message).not.toContain('\n')
    },
  )

  it.each([
    ['HTTP_PORT', 'not-a-port'],
    ['LOG_LEVEL', 'fatal'],
    ['RANDOM_PWD_LENGTH', '4'],
    ['ROND_ENABLED', 'maybe'],
    ['USERS_CRUD_ENDPOINT', 'users'],
    ['UPSTREAM_TIMEOUT_MS', '0'],
    ['AUTH0_JOB_POLLING_INTERVAL', 'every now and then'],
    ['CRUD_SERVICE', 'ftp://crud'],
    ['TIMER_SERVICE', 'http://'],
  ])('stops with one line naming the invalid %s', async (variable, value) => {
    const error = await load({ [variable]: value }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toContain(variable)
    expect((error as Error).message).not.toContain('\n')
  })

  it.each([
    [{ HTTP_PORT: 'abc' }, 'invalid configuration: HTTP_PORT must be an integer from 0 to 65535, got "abc"'],
    [{ HTTP_PORT: '70000' }, 'invalid configuration: HTTP_PORT must be an integer from 0 to 65535, got "70000"'],
    [{ RANDOM_PWD_LENGTH: 'eight' }, 'invalid configuration: RANDOM_PWD_LENGTH must be an integer from 8 to 128, got "eight"'],
    [{ AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: '0' }, 'invalid configuration: AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND must be a number greater than 0, got "0"'],
    [{ ROND_ENABLED: 'maybe' }, 'invalid configuration: ROND_ENABLED must be true or false, got "maybe"'],
    [{ LOG_LEVEL: 'fatal' }, 'invalid configuration: LOG_LEVEL must be one of error, warn, info, debug, trace, silent, got "fatal"'],
    [{ HTTP_PORT: 'abc', ROND_ENABLED: 'maybe' }, 'invalid configuration: HTTP_PORT must be an integer from 0 to 65535, got "abc"; ROND_ENABLED must be true or false, got "maybe"'],
  ])('says what %j should be, variable first', async (env, message) => {
    const error = await load(env).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toBe(message)
  })

  it('distinguishes USERINFO_ADDITIONAL_PROPERTIES unset, empty and listed', async () => {
    expect((await load({})).userinfoAdditionalProperties).toBeUndefined()
    expect((await load({ USERINFO_ADDITIONAL_PROPERTIES: '' })).userinfoAdditionalProperties).toEqual([])
    expect((await load({ USERINFO_ADDITIONAL_PROPERTIES: 'name, surname,permissions' })).userinfoAdditionalProperties).toEqual([
      'name',
      'surname',
      'permissions',
    ])
  })

  it('lower-cases header lists so they match whatever case they are written in', async () => {
    const config = await load({ ADDITIONAL_HEADERS_TO_PROXY: 'Cookie, Authorization,x-custom', TIMER_SERVICE_HEADERS: 'Client-Type,secret' })
    expect(config.additionalHeadersToProxy).toEqual(['cookie', 'authorization', 'x-custom'])
    expect(config.timerServiceHeaders).toEqual(['client-type', 'secret'])
  })

  it('reads process.env when asked to', async () => {
    process.env.UMS_TEST_ONLY_IGNORED = 'x'
    const config = await loadConfig({ ...REQUIRED, HTTP_PORT: '4001' })
    expect(config.httpPort).toBe(4001)
    delete process.env.UMS_TEST_ONLY_IGNORED
  })
})

describe('parsePollingInterval', () => {
  it.each([
    ['120000', { kind: 'interval', ms: 120000 }],
    ['2 minutes', { kind: 'interval', ms: 120000 }],
    ['30 seconds', { kind: 'interval', ms: 30000 }],
    ['1 minute', { kind: 'interval', ms: 60000 }],
    ['500 ms', { kind: 'interval', ms: 500 }],
    ['*/2 * * * *', { kind: 'cron', expression: '*/2 * * * *' }],
    ['0 */5 * * * *', { kind: 'cron', expression: '0 */5 * * * *' }],
  ])('parses %s', (value, expected) => {
    expect(parsePollingInterval(value)).toEqual(expected)
  })

  it.each(['0', '-5', '2 fortnights', 'soon', '* * *'])('rejects %s', (value) => {
    expect(() => parsePollingInterval(value)).toThrow(/AUTH0_JOB_POLLING_INTERVAL/)
  })
})

describe('serviceUrl', () => {
  it('names the variable in its error', () => {
    expect(() => serviceUrl('ROND_SERVICE', 'http://[bad')).toThrow(/ROND_SERVICE/)
  })
})

describe('job store configuration', () => {
  it('keeps jobs in memory when neither URL is set, with the documented defaults', async () => {
    const config = await load({})
    expect(config.jobStore).toEqual({ backend: 'memory' })
    expect(config.jobsCollectionName).toBe('userManagerJobs')
    expect(config.jobsLockLifetimeMs).toBe(60_000)
  })

  it.each([
    ['mongodb://mongo:27017/ums', 'mongodb'],
    ['mongodb+srv://user:pw@cluster0.example.net/ums', 'mongodb'],
    ['mongodb://a:27017,b:27017/ums?replicaSet=rs0', 'mongodb'],
    ['postgres://user:pw@db:5432/ums', 'postgres'],
    ['postgresql://db/ums', 'postgres'],
    ['redis://:pw@cache:6379/2', 'redis'],
    ['rediss://cache', 'redis'],
    ['redis://cache:6379/15?db=15', 'redis'],
    ['postgres://db/ums?sslmode=verify-full&ssl=true&port=6432', 'postgres'],
    ['mongodb://[::1]:27017,b/ums_jobs-1', 'mongodb'],
  ])('picks the backend of JOBS_STORE_URL %s', async (url, backend) => {
    const config = await load({ JOBS_STORE_URL: url, JOBS_COLLECTION_NAME: 'jobs', JOBS_LOCK_LIFETIME_MS: '5000' })
    expect(config.jobStore).toEqual({ backend, url, variable: 'JOBS_STORE_URL' })
    expect(config.jobsCollectionName).toBe('jobs')
    expect(config.jobsLockLifetimeMs).toBe(5000)
  })

  it('uses MONGODB_URL, the original name, when JOBS_STORE_URL is unset, and JOBS_STORE_URL when both are', async () => {
    expect((await load({ MONGODB_URL: 'mongodb://crud-mongo/project' })).jobStore).toEqual({ backend: 'mongodb', url: 'mongodb://crud-mongo/project', variable: 'MONGODB_URL' })
    expect((await load({ MONGODB_URL: 'mongodb://crud-mongo/project', JOBS_STORE_URL: 'redis://cache' })).jobStore).toMatchObject({ backend: 'redis', variable: 'JOBS_STORE_URL' })
  })

  it.each([
    [{ JOBS_STORE_URL: 'ftp://user:secret@host/x' }, 'invalid configuration: JOBS_STORE_URL has an unsupported scheme "ftp": use mongodb://, mongodb+srv://, postgres://, postgresql://, redis:// or rediss://'],
    [{ JOBS_STORE_URL: 'secret-db-host' }, 'invalid configuration: JOBS_STORE_URL must be a mongodb://, mongodb+srv://, postgres://, postgresql://, redis:// or rediss:// URL'],
    [{ JOBS_STORE_URL: 'postgres://user:secret@[bad/x' }, 'invalid configuration: JOBS_STORE_URL is not a valid postgres URL'],
    [{ MONGODB_URL: 'postgres://user:secret@db/x' }, 'invalid configuration: MONGODB_URL must be a mongodb:// or mongodb+srv:// URL (use JOBS_STORE_URL for postgres)'],
    // What each backend's driver would take badly: a crash, or quietly another database or no TLS check.
    [{ JOBS_STORE_URL: 'redis://:secret@127.0.0.1:6379/notanumber' }, 'invalid configuration: JOBS_STORE_URL must name the Redis database by its number (redis://host:6379/0), got "notanumber"'],
    [{ JOBS_STORE_URL: 'redis://:secret@127.0.0.1:6379/2x' }, 'invalid configuration: JOBS_STORE_URL must name the Redis database by its number (redis://host:6379/0), got "2x"'],
    [{ JOBS_STORE_URL: 'redis://:secret@127.0.0.1:6379/1/2' }, 'invalid configuration: JOBS_STORE_URL must name the Redis database by its number (redis://host:6379/0), got "1/2"'],
    [{ JOBS_STORE_URL: 'redis://:secret@127.0.0.1:6379?db=one' }, 'invalid configuration: JOBS_STORE_URL must give db= as a Redis database number, got "one"'],
    [{ JOBS_STORE_URL: 'redis://:secret@127.0.0.1:0' }, 'invalid configuration: JOBS_STORE_URL must have a port from 1 to 65535, got 0'],
    [{ JOBS_STORE_URL: 'postgres://u:secret@db:0/ums' }, 'invalid configuration: JOBS_STORE_URL must have a port from 1 to 65535, got 0'],
    [{ JOBS_STORE_URL: 'postgres://u:secret@db/ums?port=70000' }, 'invalid configuration: JOBS_STORE_URL must have a port from 1 to 65535, got 70000'],
    [{ JOBS_STORE_URL: 'postgres://u:secret@db/ums?sslmode=strict' }, 'invalid configuration: JOBS_STORE_URL has sslmode "strict": use disable, prefer, require, verify-ca, verify-full, no-verify'],
    [{ JOBS_STORE_URL: 'postgres://u:secret@db/ums?ssl=maybe' }, 'invalid configuration: JOBS_STORE_URL has ssl "maybe": use true or false'],
    [{ JOBS_STORE_URL: 'postgres://u:secret@db/ums?sslrootcert=/nonexistent/ca.pem' }, 'invalid configuration: JOBS_STORE_URL names the sslrootcert file "/nonexistent/ca.pem", which does not exist'],
    [{ MONGODB_URL: 'mongodb://u:secret@mongo:99999/ums' }, 'invalid configuration: MONGODB_URL must have a port from 1 to 65535, got 99999'],
    [{ MONGODB_URL: 'mongodb://u:secret@mongo:27017,other:port/ums' }, 'invalid configuration: MONGODB_URL must have a port from 1 to 65535'],
    [{ JOBS_STORE_URL: 'mongodb+srv://u:secret@cluster0.example.net:27017/ums' }, 'invalid configuration: JOBS_STORE_URL is a mongodb+srv URL, whose ports come from DNS: remove the port'],
    [{ JOBS_STORE_URL: 'mongodb+srv://u:secret@a.example.net,b.example.net/ums' }, 'invalid configuration: JOBS_STORE_URL is a mongodb+srv URL: name one host, whose DNS records list the servers'],
    [{ MONGODB_URL: 'mongodb://u:secret@mongo/ums.jobs' }, 'invalid configuration: MONGODB_URL names the database "ums.jobs": MongoDB database names cannot contain / \\ . " $ or a space'],
    [{ MONGODB_URL: `mongodb://u:secret@mongo/${'d'.repeat(64)}` }, 'invalid configuration: MONGODB_URL names a database of 64 bytes: MongoDB takes at most 63'],
  ])('stops with one line naming the variable, never echoing the URL: %j', async (env, message) => {
    const error = await load(env).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toBe(message)
    expect((error as Error).message).not.toContain('secret')
  })

  it.each([
    [{ JOBS_COLLECTION_NAME: 'user-manager jobs' }, /JOBS_COLLECTION_NAME/],
    [{ JOBS_COLLECTION_NAME: '' }, /JOBS_COLLECTION_NAME/],
    [{ JOBS_LOCK_LIFETIME_MS: '500' }, /JOBS_LOCK_LIFETIME_MS/],
    [{ JOBS_LOCK_LIFETIME_MS: 'soon' }, /JOBS_LOCK_LIFETIME_MS/],
  ])('rejects %j naming the variable', async (env, pattern) => {
    await expect(load(env)).rejects.toThrow(pattern)
  })
})

describe('platform operation variables', () => {
  it('defaults to metrics and documentation on, tracing off and no prefix', async () => {
    expect(await load({})).toMatchObject({ servicePrefix: '', exposeMetrics: true, exposeDocumentation: true, enableTracing: false })
  })

  it.each([
    ['/', ''],
    ['/ums', '/ums'],
    ['/ums/', '/ums'],
    ['/v1/user-manager', '/v1/user-manager'],
  ])('accepts SERVICE_PREFIX %s', async (value, prefix) => {
    expect((await load({ SERVICE_PREFIX: value })).servicePrefix).toBe(prefix)
  })

  it.each(['ums', '/UMS', '/ums_v1', '//', '/ums//x', ''])('stops on SERVICE_PREFIX %j, naming it', async (value) => {
    await expect(load({ SERVICE_PREFIX: value })).rejects.toThrow(/SERVICE_PREFIX/)
  })
})

describe('OpenTelemetry variables', () => {
  it('accepts what the SDK reads', async () => {
    await expect(
      load({
        ENABLE_TRACING: 'true',
        OTEL_SERVICE_NAME: 'ums-eu',
        OTEL_TRACES_EXPORTER: 'otlp,console',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_PROPAGATORS: 'tracecontext,baggage,b3',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
        OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
      }),
    ).resolves.toMatchObject({ enableTracing: true })
  })

  it.each([
    [{ OTEL_TRACES_EXPORTER: 'jaeger' }, /OTEL_TRACES_EXPORTER/],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'http' }, /OTEL_EXPORTER_OTLP_PROTOCOL must be one of http\/protobuf, http\/json, grpc/],
    [{ OTEL_PROPAGATORS: 'w3c' }, /OTEL_PROPAGATORS/],
    [{ OTEL_TRACES_SAMPLER: 'sometimes' }, /OTEL_TRACES_SAMPLER must be one of/],
    [{ OTEL_TRACES_SAMPLER_ARG: '2' }, /OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got "2"/],
    [{ OTEL_EXPORTER_OTLP_TIMEOUT: 'soon' }, /OTEL_EXPORTER_OTLP_TIMEOUT/],
  ])('rejects %j naming the variable', async (env, pattern) => {
    await expect(load(env)).rejects.toThrow(pattern)
  })
})
