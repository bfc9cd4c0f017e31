// The service's name, version and description, as package.json gives them: what the status routes,
// the OpenAPI document, the traces and the Timer Service see of ums.
import { readFileSync } from 'node:fs'

export interface PackageInfo {
  name: string
  version: string
  description: string
}

export const PACKAGE: PackageInfo = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
