// Deterministic documents for the benchmarks: users of the `customer` group (src/sandbox/fixtures.ts).

export function benchUsers(count: number, prefix = 'bench'): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, index) => {
    const n = String(index + 1).padStart(6, '0')
    return {
      userGroup: 'customer',
      authUserId: `auth0|${prefix}${n}`,
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
