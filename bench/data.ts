// Deterministic documents for the benchmarks: users of the `customer` group (src/sandbox/fixtures.ts).

export function benchUsers(count: number, prefix = 'bench', options: { withAuthUserId?: boolean } = {}): Record<string, unknown>[] {
  const withAuthUserId = options.withAuthUserId ?? true
  return Array.from({ length: count }, (_, index) => {
    const n = String(index + 1).padStart(6, '0')
    return {
      userGroup: 'customer',
      ...(withAuthUserId && { authUserId: `auth0|${prefix}${n}` }),
      username: `${prefix}.user${n}`,
      email: `${prefix}.user${n}@example.com`,
      name: `Name${n}`,
      surname: `Surname${n}`,
      age: 20 + (index % 60),
      roles: [index % 2 === 0 ? 'customer-basic' : 'customer-premium'],
      tags: ['bench'],
      blocked: false,
    }
  })
}

const TAGS = ['red', 'blue', 'gold', 'new', 'vip', 'beta', 'eu', 'us'] as const

/**
 * A CSV of `rows` new `customer` users for `PATCH /users/import`, `;`-delimited so the `tags`
 * cells can be `[a, b]` arrays: about 84 bytes a row with a 3-letter prefix.
 */
export function importCsv(rows: number, prefix: string): Buffer {
  const lines = ['userGroup;name;surname;email;username;age;tags']
  for (let index = 0; index < rows; index += 1) {
    const n = String(index + 1).padStart(6, '0')
    const tags = `[${TAGS[index % TAGS.length]}, ${TAGS[(index + 3) % TAGS.length]}]`
    lines.push(`customer;Name${n};Surname${n};${prefix}${n}@example.com;${prefix}${n};${18 + (index % 70)};${tags}`)
  }
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8')
}
