// The fault matrix: every multi-step route (rows, in routes.ts) × every peer call it makes × five
// ways that call can fail (500, timeout, refused connection, reset connection, carried out but
// answered too late). After each case: the documented answer, the stores consistent with each
// other (or, where a case documents a leftover, not yet), then a repairing reconciliation and a
// dry run that finds nothing left.
import { describe, expect } from 'vitest'
import { stackPoolTest } from '../helpers/stack.js'
import { clearRequestLogs } from '../integration/users-patch-helpers.js'
import { expectConsistent, inconsistencies } from '../helpers/consistency.js'
import { expectReconciled } from './oracle.js'
import { waitUntil } from '../helpers/wait.js'
import { FAULTS, ROWS, TIMEOUT_MS, type Row } from './routes.js'

// Cases run side by side, each on a stack of its own: most of a case is waiting (timeouts, jobs).
const it = stackPoolTest({
  env: { UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS), RECONCILE_RECENT_WINDOW_MS: '0', SELF_REGISTRATION_MIN_DURATION_MS: '0', SELF_REGISTRATION_RATE_LIMIT_PER_MINUTE: '100000' },
})

/** The route has calls in flight side by side (see routes.ts), whose faults depend on which ends first. */
const sideBySide = (row: Row) => row.calls.some((call) => call.concurrent)

const rowCases = (row: Row) => {
  const cases = row.calls.flatMap((call, index) => FAULTS.map((fault) => ({ call, index, fault })))

  it.for(cases)('$call.name: $fault.name', async ({ call, index, fault }, { stack }) => {
    const seeded = await row.seed(stack.current)
    clearRequestLogs(stack.current)
    const peer = stack.current[call.peer]
    if (fault.name === 'refused') {
      // A connection is refused only when it is new: the peer goes down right after the call before.
      const previous = row.calls.slice(0, index).reverse().find((other) => other.peer === call.peer)
      if (previous) peer.injectFault({ ...previous.rule(seeded), downAfterAnswer: true })
      else peer.down()
    } else {
      peer.injectFault({ ...call.rule(seeded), ...fault.rule })
    }
    let answer: Awaited<ReturnType<typeof row.send>>
    try {
      answer = await row.send(stack, seeded)
    } finally {
      await peer.up()
    }

    if (fault.logged !== undefined) {
      const hits = () => peer.requests.filter((request) => request.outcome === fault.logged)
      // A best-effort call that follows the answer (DELETE's timer abort) may still be under way.
      await waitUntil(() => hits().length > 0, 'the fault to be met', 2_000)
      const hit = hits()
      if (fault.name === 'applied, then timed out') expect(hit.some((request) => request.applied)).toBe(true)
    }
    if (call.succeedsUnder?.includes(fault.name)) {
      expect(answer.status, JSON.stringify(answer.body)).toBe(row.success)
    } else if (fault.name === 'refused' && call.concurrent) {
      expect(answer.status).toBe(500)
      expect((answer.body as { message?: string }).message).toMatch(new RegExp(`^Error while ${row.action} user: ${call.call.split(' ')[0]} [A-Z]+ \\S+ failed: connection (refused|reset)$`))
    } else {
      expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `Error while ${row.action} user: ${call.call} ${fault.suffix}`, code: 'UMS_UPSTREAM_FAILED' })
    }

    const unlinked = new Set(seeded.unlinked ?? [])
    const leftover = call.leavesUnder?.includes(fault.name) ?? false
    if (leftover) expect(inconsistencies(stack.current, unlinked), 'the leftover this case documents').not.toEqual([])
    else expectConsistent(stack.current, unlinked)
    await expectReconciled(stack, leftover, unlinked)
  })
}

describe.concurrent.each(ROWS.filter((row) => !sideBySide(row)))('$route', rowCases)
// Their cases run alone, one at a time, after the others: other cases in this process would change
// the order in which those calls end.
describe.sequential.each(ROWS.filter(sideBySide))('$route', rowCases)
