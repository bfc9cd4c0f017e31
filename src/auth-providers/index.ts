// Registry of auth provider modules, keyed by the AUTH_MODULE value.
import { ConfigError } from '../config.js'
import { Auth0ClientProvider } from './auth0-client.js'
import type { AuthProvider, AuthProviderDeps, AuthProviderFactory } from './provider.js'

export const AUTH_PROVIDERS: Readonly<Record<string, AuthProviderFactory>> = {
  auth0Client: (deps) => new Auth0ClientProvider(deps),
}

export function createAuthProvider(moduleName: string, deps: AuthProviderDeps): AuthProvider {
  const factory = AUTH_PROVIDERS[moduleName]
  if (!factory) {
    throw new ConfigError(`AUTH_MODULE "${moduleName}" is unknown; known modules: ${Object.keys(AUTH_PROVIDERS).join(', ')}`)
  }
  return factory(deps)
}

export type { AuthProvider } from './provider.js'
