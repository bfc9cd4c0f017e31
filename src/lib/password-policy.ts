// The password policies of an Auth0 database connection, by their Auth0 names. ums checks a
// sign-up's password against the connection's own policy before anything else, so that a weak
// password gets the same answer whether or not its address already has an account.

export const PASSWORD_POLICIES = ['none', 'low', 'fair', 'good', 'excellent'] as const
export type PasswordPolicy = (typeof PASSWORD_POLICIES)[number]

/** The kinds of character the policies count: lower case, upper case, digit, special. */
const KINDS = [/\p{Ll}/u, /\p{Lu}/u, /\p{Nd}/u, /[^\p{L}\p{Nd}]/u] as const

const kindsIn = (password: string) => KINDS.filter((kind) => kind.test(password)).length

interface Rule {
  /** What the policy asks for, in the caller's terms. */
  asks: string
  accepts: (password: string) => boolean
}

const RULES: Record<PasswordPolicy, Rule> = {
  none: { asks: 'at least 1 character', accepts: (password) => password.length >= 1 },
  low: { asks: 'at least 6 characters', accepts: (password) => password.length >= 6 },
  fair: {
    asks: 'at least 8 characters, with a lower-case letter, an upper-case letter and a digit',
    accepts: (password) => password.length >= 8 && KINDS.slice(0, 3).every((kind) => kind.test(password)),
  },
  good: {
    asks: 'at least 8 characters, with 3 of: a lower-case letter, an upper-case letter, a digit, a special character',
    accepts: (password) => password.length >= 8 && kindsIn(password) >= 3,
  },
  excellent: {
    asks: 'at least 10 characters, with 3 of: a lower-case letter, an upper-case letter, a digit, a special character; no character more than twice in a row',
    accepts: (password) => password.length >= 10 && kindsIn(password) >= 3 && !/(.)\1\1/su.test(password),
  },
}

/** Why `password` does not meet `policy`, or undefined when it does. Never quotes the password. */
export function passwordProblem(password: string, policy: PasswordPolicy): string | undefined {
  const rule = RULES[policy]
  return rule.accepts(password) ? undefined : `password is too weak: the auth connection asks for ${rule.asks}`
}
