// The message of something thrown, for logs and error bodies.

/** The message of an Error; anything else thrown reads as `notAnError`, by default as String() renders it. */
export function messageOf(error: unknown, notAnError?: string): string {
  return error instanceof Error ? error.message : (notAnError ?? String(error))
}
