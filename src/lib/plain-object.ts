// Whether a value is a plain object, for code that walks JSON-like values.

/**
 * Which objects count, besides null and arrays, which never do: `literal`, those an object
 * literal, JSON.parse or Object.create(null) makes (prototype Object.prototype or null);
 * `not-date`, any object but a Date; `any`, any object.
 */
export type PlainObjectKind = 'literal' | 'not-date' | 'any'

export function isPlainObject(value: unknown, kind: PlainObjectKind = 'literal'): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  if (kind === 'any') return true
  if (kind === 'not-date') return !(value instanceof Date)
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}
