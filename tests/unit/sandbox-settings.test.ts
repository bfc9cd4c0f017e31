// What the sandbox takes from the environment: every variable of the configuration schema but
// the emulator wiring, its own defaults, HOST and the emulator ports.
import { describe, expect, it } from 'vitest'
import { ENV_SCHEMA, loadConfig } from '../../src/config/index.js'
import { stackEnv } from '../../src/sandbox/stack.js'
import { DEFAULT_HOST, SANDBOX_DEFAULTS, sandboxSettings, WIRED_VARIABLES } from '../../src/sandbox/settings.js'

/** A value the schema accepts for `name`, distinct from its default where it has one. */
function sampleValue(name: string): string {
  const property = (ENV_SCHEMA.properties as Record<string, { type: string; enum?: readonly string[]; pattern?: string }>)[name]!
  if (property.enum) return property.enum.find((value) => value !== 'info')!
  if (name === 'HTTP_PORT') return '4000'
  if (name === 'AUTH0_JOB_POLLING_INTERVAL') return '5 seconds'
  if (name === 'JOBS_STORE_URL') return 'redis://127.0.0.1:6379'
  if (name === 'MONGODB_URL') return 'mongodb://127.0.0.1/ums'
  if (name === 'JOBS_COLLECTION_NAME') return 'sandboxJobs'
  if (name === 'JOBS_LOCK_LIFETIME_MS') return '5000'
  if (name === 'RANDOM_PWD_LENGTH') return '12'
  if (property.pattern === '^/') return '/elsewhere'
  if (property.type === 'boolean') return 'false'
  if (property.type === 'integer' || property.type === 'number') return '7'
  return `${name.toLowerCase()}-value`
}

const VARIABLES = Object.keys(ENV_SCHEMA.properties)
const WIRED = new Set<string>(WIRED_VARIABLES)

describe('sandboxSettings', () => {
  it('passes on every configuration variable set in the environment, except the wired ones', () => {
    const environment = Object.fromEntries(VARIABLES.map((name) => [name, sampleValue(name)]))
    const settings = sandboxSettings(environment)
    for (const name of VARIABLES) {
      if (name === 'HTTP_PORT') expect(settings.port).toBe(4000)
      else if (WIRED.has(name)) expect(settings.env, name).not.toHaveProperty(name)
      else expect(settings.env[name], name).toBe(environment[name])
    }
    expect(settings.ignored).toEqual(VARIABLES.filter((name) => WIRED.has(name)))
  })

  it('wires only variables of the schema', () => {
    for (const name of WIRED_VARIABLES) expect(VARIABLES).toContain(name)
  })

  it('keeps its defaults where the environment is silent, empty values included as given', () => {
    const settings = sandboxSettings({ PATH: '/usr/bin', USERINFO_ADDITIONAL_PROPERTIES: '' })
    expect(settings.env).toEqual({ ...SANDBOX_DEFAULTS, USERINFO_ADDITIONAL_PROPERTIES: '' })
    expect(settings.env.LOG_LEVEL).toBe('info')
    expect(settings.ignored).toEqual([])
  })

  it('listens on loopback on 3000 by default, HOST and HTTP_PORT otherwise, the emulators after it', () => {
    expect(sandboxSettings({})).toMatchObject({
      host: DEFAULT_HOST,
      port: 3000,
      emulatorPorts: { crud: 3001, auth: 3002, rond: 3003, timer: 3004 },
    })
    expect(DEFAULT_HOST).toBe('127.0.0.1')
    expect(sandboxSettings({ HOST: '0.0.0.0', HTTP_PORT: '4000' })).toMatchObject({
      host: '0.0.0.0',
      port: 4000,
      emulatorPorts: { crud: 4001, auth: 4002, rond: 4003, timer: 4004 },
    })
  })

  it.each(['0', '65532', 'abc', '30.5', ''])('refuses HTTP_PORT=%s in one line', (value) => {
    expect(() => sandboxSettings({ HTTP_PORT: value })).toThrow(`HTTP_PORT must be a port from 1 to 65531 in the sandbox (the emulators take the next four), got "${value}"`)
  })

  it('yields a configuration ums accepts, its values winning over the stack wiring', async () => {
    const settings = sandboxSettings({ USERINFO_ADDITIONAL_PROPERTIES: 'name', UPSTREAM_TIMEOUT_MS: '1234' })
    const peers = { crud: 'http://127.0.0.1:1', auth: 'http://127.0.0.1:2', rond: 'http://127.0.0.1:3', timer: 'http://127.0.0.1:4' }
    const config = await loadConfig({ ...stackEnv(peers, settings.port), ...settings.env }, { useProcessEnv: false })
    expect(config).toMatchObject({
      logLevel: 'info',
      rondEnabled: true,
      userinfoAdditionalProperties: ['name'],
      upstreamTimeoutMs: 1234,
      waitBeforeServerCloseMs: 0,
      auth0JobPollingInterval: { kind: 'interval', ms: 2000 },
    })
  })
})
