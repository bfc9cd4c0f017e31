// AUTH0_JOB_POLLING_INTERVAL cron expressions: parsing and next fire times (local time).
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config/index.js'
import { nextCronTime, parseCron, pollClock } from '../../src/services/bulk-activation/cron.js'

/** Local-time epoch ms of a date-time. */
const at = (year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0) =>
  new Date(year, month - 1, day, hour, minute, second, ms).getTime()

const next = (expression: string, after: number) => nextCronTime(parseCron(expression), after)

describe('nextCronTime', () => {
  it('fires every minute at second 0 with 5 fields', () => {
    expect(next('* * * * *', at(2024, 3, 10, 12, 0, 30))).toBe(at(2024, 3, 10, 12, 1, 0))
    expect(next('* * * * *', at(2024, 3, 10, 12, 1, 0))).toBe(at(2024, 3, 10, 12, 2, 0))
  })

  it('reads a leading seconds field with 6 fields', () => {
    expect(next('*/10 * * * * *', at(2024, 3, 10, 12, 0, 31, 500))).toBe(at(2024, 3, 10, 12, 0, 40))
    expect(next('* * * * * *', at(2024, 3, 10, 12, 0, 31, 999))).toBe(at(2024, 3, 10, 12, 0, 32))
    expect(next('15 30 * * * *', at(2024, 3, 10, 12, 30, 15))).toBe(at(2024, 3, 10, 13, 30, 15))
  })

  it('handles steps, ranges and lists', () => {
    expect(next('*/2 * * * *', at(2024, 3, 10, 12, 1, 0))).toBe(at(2024, 3, 10, 12, 2, 0))
    expect(next('5-10/5 * * * *', at(2024, 3, 10, 12, 6, 0))).toBe(at(2024, 3, 10, 12, 10, 0))
    expect(next('5-10/5 * * * *', at(2024, 3, 10, 12, 10, 0))).toBe(at(2024, 3, 10, 13, 5, 0))
    expect(next('0 8,20 * * *', at(2024, 3, 10, 9, 0, 0))).toBe(at(2024, 3, 10, 20, 0, 0))
    expect(next('30/15 * * * *', at(2024, 3, 10, 12, 50, 0))).toBe(at(2024, 3, 10, 13, 30, 0))
  })

  it('rolls over days, months and years', () => {
    expect(next('0 0 1 * *', at(2024, 1, 31, 23, 59, 59))).toBe(at(2024, 2, 1))
    expect(next('0 0 1 1 *', at(2024, 6, 15))).toBe(at(2025, 1, 1))
    expect(next('0 0 31 * *', at(2024, 4, 1))).toBe(at(2024, 5, 31))
    expect(next('0 0 29 2 *', at(2025, 1, 1))).toBe(at(2028, 2, 29))
  })

  it('matches the day of week, 0 and 7 both being Sunday', () => {
    // 2024-03-10 is a Sunday.
    expect(next('0 9 * * 1', at(2024, 3, 10, 10))).toBe(at(2024, 3, 11, 9))
    expect(next('0 9 * * 0', at(2024, 3, 10, 10))).toBe(at(2024, 3, 17, 9))
    expect(next('0 9 * * 7', at(2024, 3, 10, 10))).toBe(at(2024, 3, 17, 9))
    expect(next('0 9 * * 1-5', at(2024, 3, 15, 10))).toBe(at(2024, 3, 18, 9))
  })

  it('fires on either day field when both are restricted (Vixie cron)', () => {
    // The 20th or any Monday: Monday 11 March comes first.
    expect(next('0 0 20 * 1', at(2024, 3, 10, 12))).toBe(at(2024, 3, 11))
    expect(next('0 0 12 * 1', at(2024, 3, 11, 12))).toBe(at(2024, 3, 12))
  })
})

describe('parseCron', () => {
  it.each([
    ['* * * *', 'expected 5 or 6 fields'],
    ['60 * * * *', 'minute "60" is outside 0-59'],
    ['* 24 * * *', 'hour "24" is outside 0-23'],
    ['* * 0 * *', 'day of month "0" is outside 1-31'],
    ['* * * 13 *', 'month "13" is outside 1-12'],
    ['* * * * 8', 'day of week "8" is outside 0-7'],
    ['10-5 * * * *', 'minute "10-5" is outside 0-59'],
    ['*/0 * * * *', 'minute step must be at least 1'],
    ['0 0 31 2 *', 'it never fires'],
    ['a * * * *', '"a" is not a valid minute'],
  ])('refuses %s naming the variable', (expression, why) => {
    expect(() => parseCron(expression)).toThrow(ConfigError)
    expect(() => parseCron(expression)).toThrow(`AUTH0_JOB_POLLING_INTERVAL cron expression "${expression}": ${why}`)
  })
})

describe('pollClock', () => {
  it('adds the period of an interval', () => {
    expect(pollClock({ kind: 'interval', ms: 120_000 })(1_000)).toBe(121_000)
  })

  it('asks the cron expression otherwise', () => {
    const clock = pollClock({ kind: 'cron', expression: '0 */2 * * * *' })
    expect(clock(at(2024, 3, 10, 12, 1, 10))).toBe(at(2024, 3, 10, 12, 2, 0))
  })
})
