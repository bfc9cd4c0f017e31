// Parsing of the CLI's option values. Every mistake is a UsageError (exit 2), found before any call.
import { readFile } from 'node:fs/promises'

/** A mistake in the command line: exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** Commander's collector of a repeatable option. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

/** `key=value`: the value as JSON when it parses (`42`, `true`, `["a"]`), as a bare string otherwise. */
export function keyValue(text: string, option: string): [string, unknown] {
  const index = text.indexOf('=')
  const key = index === -1 ? '' : text.slice(0, index).trim()
  if (key === '') throw new UsageError(`${option} takes key=value, got "${text}"`)
  const raw = text.slice(index + 1)
  try {
    return [key, JSON.parse(raw)]
  } catch {
    return [key, raw]
  }
}

export function keyValues(texts: string[] | undefined, option: string): Record<string, unknown> {
  return Object.fromEntries((texts ?? []).map((text) => keyValue(text, option)))
}

/** A JSON object given on the command line (a MongoDB filter). */
export function jsonObject(text: string, option: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new UsageError(`${option} must be a JSON object: ${(error as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`${option} must be a JSON object, got ${text}`)
  return value as Record<string, unknown>
}

/** `name:value` of --header. */
export function header(text: string): [string, string] {
  const index = text.indexOf(':')
  const name = index === -1 ? '' : text.slice(0, index).trim()
  if (name === '') throw new UsageError(`--header takes name:value, got "${text}"`)
  return [name.toLowerCase(), text.slice(index + 1).trim()]
}

export function nonNegativeInteger(text: string, option: string, minimum = 0): number {
  const value = Number(text)
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < minimum) {
    throw new UsageError(`${option} takes an integer of at least ${minimum}, got "${text}"`)
  }
  return value
}

/** The ids of a file: one per line (blank lines and `#` comments ignored). */
export async function idsFile(path: string): Promise<string[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new UsageError(`--ids-file ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '')
}

/** A JSON object read from a file (--file user.json). */
export async function jsonFile(path: string, option: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new UsageError(`${option} ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  return jsonObject(text, `${option} ${path}`)
}

/** Exactly one of the options that name the users a command acts on. */
export function oneOf(given: Record<string, unknown>, names: string[]): void {
  const present = names.filter((name) => {
    const value = given[name]
    return Array.isArray(value) ? value.length > 0 : value !== undefined
  })
  const flags = names.map((name) => `--${name.replace(/[A-Z]/g, (char) => `-${char.toLowerCase()}`)}`)
  if (present.length !== 1) throw new UsageError(`give one of ${flags.join(', ')}`)
}
