// The auth-properties file (CONFIGURATION_PATH): which auth profile properties `GET /users/` merges
// into each user it lists.
import { readFile } from 'node:fs/promises'
import { isPlainObject } from '../lib/plain-object.js'
import { ConfigError } from './config-error.js'

export interface AuthPropertiesConfig {
  /** CRUD field holding the auth user id (the file's `user_id`), normally `authUserId`. */
  userIdField: string
  /** Auth profile properties copied onto each listed user. */
  properties: string[]
}

/** Reads and checks the CONFIGURATION_PATH file `{"user_id": string, "additionalProperties": string[]}`. */
export async function readAuthProperties(path: string): Promise<AuthPropertiesConfig> {
  let parsed: unknown
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'))
  } catch (error) {
    throw new ConfigError(`CONFIGURATION_PATH ${path} is not a readable JSON file: ${(error as Error).message.split('\n')[0]}`)
  }
  const file = (isPlainObject(parsed, 'any') ? parsed : {}) as {
    user_id?: unknown
    additionalProperties?: unknown
  }
  const properties = file.additionalProperties
  if (
    typeof file.user_id !== 'string' ||
    file.user_id === '' ||
    !Array.isArray(properties) ||
    !properties.every((property) => typeof property === 'string' && property !== '')
  ) {
    throw new ConfigError(`CONFIGURATION_PATH ${path} must hold {"user_id": string, "additionalProperties": string[]}`)
  }
  return { userIdField: file.user_id, properties: properties as string[] }
}
