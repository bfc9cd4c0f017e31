// Registry of auth provider modules, keyed by the AUTH_MODULE value. A module creates the provider
// and explains its service's refusals, which the provider's HTTP client attaches to its errors.
import { ConfigError } from '../config/index.js'
import type { RefusalExplainer } from '../clients/refusal.js'
import { Auth0ClientProvider } from './auth0-client.js'
import { auth0Refusal } from './auth0-refusals.js'
import type { AuthProvider, AuthProviderDeps, AuthProviderFactory } from './provider.js'

export interface AuthProviderModule {
  create: AuthProviderFactory
  explainRefusal: RefusalExplainer
}

export const AUTH_PROVIDERS: Readonly<Record<string, AuthProviderModule>> = {
  auth0Client: { create: (deps) => new Auth0ClientProvider(deps), explainRefusal: auth0Refusal },
}

/** The module AUTH_MODULE names; a ConfigError listing the known ones otherwise. */
export function authProviderModule(moduleName: string): AuthProviderModule {
  const module = AUTH_PROVIDERS[moduleName]
  if (!module) throw new ConfigError(`AUTH_MODULE "${moduleName}" is unknown; known modules: ${Object.keys(AUTH_PROVIDERS).join(', ')}`)
  return module
}

export function createAuthProvider(moduleName: string, deps: AuthProviderDeps): AuthProvider {
  return authProviderModule(moduleName).create(deps)
}

export type { AuthProvider } from './provider.js'
