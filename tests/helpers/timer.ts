// Timers seeded straight into the Timer Service emulator, through its HTTP API, for tests that
// need a user with a pending (or past) expiry.
import { request } from 'undici'
import type { Stack } from '../../src/sandbox/stack.js'

/** Who schedules the timer and where it calls back when it fires. */
export interface TimerCallback {
  applicantService: string
  hostname: string
  port: number
  path: string
  headers?: Record<string, string>
}

/**
 * POSTs a `{$set:{blocked:true}}` timer expiring at `expiresAt` (at once when it is in the past) to
 * the emulator's /schedule, the way ums does; answers the status and the new expirationId.
 */
export async function postSchedule(stack: Stack, expiresAt: Date, callback: TimerCallback): Promise<{ status: number; expirationId: string }> {
  const { applicantService, ...target } = callback
  const now = new Date()
  const response = await request(`${stack.timer.url}/schedule`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      payload: { $set: { blocked: true } },
      startDate: now.toISOString(),
      expirationIntervalMs: Math.max(0, expiresAt.getTime() - now.getTime()),
      applicantService,
      outputMode: { type: 'rest', method: 'patch', protocol: 'http', ...target },
    }),
  })
  const { expirationId } = (await response.body.json()) as { expirationId: string }
  return { status: response.statusCode, expirationId }
}
