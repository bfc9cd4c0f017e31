// Loading the configuration: the environment validated through @fastify/env (ajv with coercion and
// defaults), start-up errors worded for the operator, then the Config and the auth-properties file.
import Fastify from 'fastify'
import fastifyEnv from '@fastify/env'
import { readAuthProperties } from './auth-properties.js'
import { ConfigError } from './config-error.js'
import { deriveConfig, type Config } from './derive.js'
import { ENV_SCHEMA, type RawEnv } from './env-schema.js'

/** One ajv error of @fastify/env (its `errors` list). */
interface EnvProblem {
  instancePath: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

type PropertySchema = { type: string; minimum?: number; maximum?: number; exclusiveMinimum?: number; enum?: readonly string[] }

/**
 * What a patterned variable accepts, in words: a regular expression is no help to the operator
 * reading the start-up error. Only for values that are no secret, since the value is quoted.
 */
const PATTERN_RULES: Record<string, string> = {
  SERVICE_PREFIX: '/ or lowercase a-z0-9- path segments such as /ums or /v1/users',
}

/** What a numeric variable accepts: `an integer from 0 to 65535`, `a number greater than 0`. */
function numberRange(property: PropertySchema): string {
  const noun = property.type === 'integer' ? 'an integer' : 'a number'
  const { minimum, maximum, exclusiveMinimum } = property
  if (minimum !== undefined && maximum !== undefined) return `${noun} from ${minimum} to ${maximum}`
  if (minimum !== undefined) return `${noun} of at least ${minimum}`
  if (exclusiveMinimum !== undefined) return `${noun} greater than ${exclusiveMinimum}`
  return noun
}

/**
 * One phrase per invalid variable, its name first (ajv says `env/HTTP_PORT must be integer`). The
 * received value is quoted only for numbers, booleans and closed lists, which cannot be secrets.
 */
function describeEnvProblem(problem: EnvProblem, received: (variable: string) => string | undefined): string {
  const variable = problem.instancePath.replace(/^\//, '')
  const property = (ENV_SCHEMA.properties as Record<string, PropertySchema | undefined>)[variable]
  if (variable === '' || property === undefined) return `env ${problem.message ?? 'is invalid'}`
  const got = `, got ${JSON.stringify(received(variable) ?? '')}`
  if (property.type === 'integer' || property.type === 'number') return `${variable} must be ${numberRange(property)}${got}`
  if (property.type === 'boolean') return `${variable} must be true or false${got}`
  if (property.enum !== undefined) return `${variable} must be one of ${property.enum.join(', ')}${got}`
  const rule = PATTERN_RULES[variable]
  if (problem.keyword === 'pattern' && rule !== undefined) return `${variable} must be ${rule}${got}`
  return `${variable} ${problem.message ?? 'is invalid'}`
}

export interface LoadConfigOptions {
  /** Merge process.env under `env` (default true); tests pass false for isolation. */
  useProcessEnv?: boolean
  /** Read `.env` from the working directory (default false). */
  dotenv?: boolean
}

/**
 * Validates `env` through @fastify/env (ajv with coercion and defaults) and derives the Config.
 * Throws ConfigError whose message is one line naming the offending variable(s).
 */
export async function loadConfig(
  env: Record<string, string | undefined> = {},
  options: LoadConfigOptions = {},
): Promise<Config> {
  const loader = Fastify({ logger: false })
  const data = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined))
  try {
    await loader.register(fastifyEnv, {
      schema: structuredClone(ENV_SCHEMA) as unknown as Record<string, unknown>,
      data,
      env: options.useProcessEnv ?? true,
      dotenv: options.dotenv ?? false,
    })
    await loader.ready()
  } catch (error) {
    const problems = (error as { errors?: EnvProblem[] }).errors
    const received = (variable: string) => data[variable] ?? (options.useProcessEnv === false ? undefined : process.env[variable])
    const message = Array.isArray(problems)
      ? [...new Set(problems.map((problem) => describeEnvProblem(problem, received)))].join('; ')
      : error instanceof Error
        ? error.message
        : String(error)
    throw new ConfigError(`invalid configuration: ${message.replace(/\s+/g, ' ')}`)
  } finally {
    await loader.close()
  }
  const raw = (loader as unknown as { config: RawEnv }).config
  try {
    const config = deriveConfig(raw)
    if (raw.CONFIGURATION_PATH !== undefined) config.authProperties = await readAuthProperties(raw.CONFIGURATION_PATH)
    return config
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`invalid configuration: ${error.message}`)
    throw error
  }
}
