// Error answers of the Auth0 Client emulator: the Mia-wide body for errors the Auth0 Client
// originates and the relayed Auth0 bodies. Route code throws
// `EmulatorHttpError`; the emulator's error handler turns it into the reply.
import type { MiaErrorBody } from '../../auth-providers/auth0-contract.js'
import { reasonPhrase } from '../emulator-kit.js'

export class EmulatorHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
    /** Set for non-JSON bodies (the plain-text 429 of `/userinfo`). */
    readonly contentType?: string,
  ) {
    super(typeof body === 'string' ? body : `HTTP ${status}`)
  }
}

export function miaBody(status: number, message: string): MiaErrorBody {
  return { statusCode: status, error: reasonPhrase(status), message }
}

/** An error the Auth0 Client itself originates. */
export function miaError(status: number, message: string): EmulatorHttpError {
  return new EmulatorHttpError(status, miaBody(status, message))
}

/** An Auth0 Management API error relayed by the Auth0 Client. */
export function managementError(status: number, message: string, errorCode: string): EmulatorHttpError {
  return new EmulatorHttpError(status, { ...miaBody(status, message), errorCode })
}

/** An Auth0 Authentication API error relayed by the Auth0 Client. */
export function authenticationError(status: number, error: string, description: string): EmulatorHttpError {
  return new EmulatorHttpError(status, { error, error_description: description })
}

export const invalidBody = (message: string): EmulatorHttpError => managementError(400, message, 'invalid_body')
