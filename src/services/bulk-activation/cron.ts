// When the bulk-activation poller fires next (AUTH0_JOB_POLLING_INTERVAL): a fixed
// period, or the next fire time of a 5-field (minute hour day-of-month month day-of-week) or
// 6-field (second first) cron expression. The config accepts `*`, numbers, ranges `a-b`, steps
// `/n` and comma lists; this module checks the ranges and computes fire times in local time, like
// cron itself. Day of month and day of week follow Vixie cron: when both are restricted a day
// matching either fires; `0` and `7` are both Sunday.
import { ConfigError, type PollingInterval } from '../../config/index.js'

export interface CronSchedule {
  seconds: ReadonlySet<number>
  minutes: ReadonlySet<number>
  hours: ReadonlySet<number>
  daysOfMonth: ReadonlySet<number>
  months: ReadonlySet<number>
  daysOfWeek: ReadonlySet<number>
  /** Both day fields restricted (neither starts with `*`): a day matching either fires. */
  dayEither: boolean
}

interface FieldSpec {
  name: string
  min: number
  max: number
}

const SECOND: FieldSpec = { name: 'second', min: 0, max: 59 }
const MINUTE: FieldSpec = { name: 'minute', min: 0, max: 59 }
const HOUR: FieldSpec = { name: 'hour', min: 0, max: 23 }
const DAY_OF_MONTH: FieldSpec = { name: 'day of month', min: 1, max: 31 }
const MONTH: FieldSpec = { name: 'month', min: 1, max: 12 }
const DAY_OF_WEEK: FieldSpec = { name: 'day of week', min: 0, max: 7 }

/** The rarest expressions fire every 4 to 8 years (`0 0 29 2 *`); beyond this horizon an expression never fires. */
const SEARCH_HORIZON_MS = 30 * 366 * 24 * 60 * 60 * 1000

function invalid(expression: string, why: string): ConfigError {
  return new ConfigError(`AUTH0_JOB_POLLING_INTERVAL cron expression "${expression}": ${why}`)
}

function parseField(expression: string, text: string, spec: FieldSpec): Set<number> {
  const values = new Set<number>()
  for (const item of text.split(',')) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item)
    if (!match) throw invalid(expression, `"${item}" is not a valid ${spec.name}`)
    const [, whole, first, last, stepText] = match
    const step = stepText === undefined ? 1 : Number(stepText)
    let from = spec.min
    let to = spec.max
    if (whole !== '*') {
      from = Number(first)
      // `a/n` runs from a to the end of the range, like cron.
      to = last !== undefined ? Number(last) : stepText !== undefined ? spec.max : from
    }
    if (from < spec.min || to > spec.max || from > to) throw invalid(expression, `${spec.name} "${item}" is outside ${spec.min}-${spec.max}`)
    if (step < 1) throw invalid(expression, `${spec.name} step must be at least 1`)
    for (let value = from; value <= to; value += step) values.add(value)
  }
  return values
}

/** Parses a 5- or 6-field expression; throws a ConfigError naming the variable when it is invalid. */
export function parseCron(expression: string): CronSchedule {
  const fields = expression.trim().split(/\s+/)
  if (fields.length !== 5 && fields.length !== 6) throw invalid(expression, 'expected 5 or 6 fields')
  const [secondText, minuteText, hourText, dayText, monthText, weekdayText] = fields.length === 6 ? fields : ['0', ...fields]
  const daysOfWeek = parseField(expression, weekdayText!, DAY_OF_WEEK)
  if (daysOfWeek.delete(7)) daysOfWeek.add(0)
  const schedule: CronSchedule = {
    seconds: parseField(expression, secondText!, SECOND),
    minutes: parseField(expression, minuteText!, MINUTE),
    hours: parseField(expression, hourText!, HOUR),
    daysOfMonth: parseField(expression, dayText!, DAY_OF_MONTH),
    months: parseField(expression, monthText!, MONTH),
    daysOfWeek,
    dayEither: !dayText!.startsWith('*') && !weekdayText!.startsWith('*'),
  }
  // An expression such as `0 0 31 2 *` parses but never fires.
  nextCronTime(schedule, Date.now(), expression)
  return schedule
}

function dayMatches(schedule: CronSchedule, date: Date): boolean {
  const byMonth = schedule.daysOfMonth.has(date.getDate())
  const byWeek = schedule.daysOfWeek.has(date.getDay())
  return schedule.dayEither ? byMonth || byWeek : byMonth && byWeek
}

/**
 * The first fire time strictly after `afterMs` (epoch ms, whole seconds). Walks field by field,
 * jumping a whole month, day, hour or minute whenever that field does not match.
 */
export function nextCronTime(schedule: CronSchedule, afterMs: number, expression = 'cron'): number {
  const date = new Date(Math.floor(afterMs / 1000) * 1000 + 1000)
  const horizon = afterMs + SEARCH_HORIZON_MS
  while (date.getTime() <= horizon) {
    if (!schedule.months.has(date.getMonth() + 1)) {
      date.setMonth(date.getMonth() + 1, 1)
      date.setHours(0, 0, 0, 0)
    } else if (!dayMatches(schedule, date)) {
      date.setDate(date.getDate() + 1)
      date.setHours(0, 0, 0, 0)
    } else if (!schedule.hours.has(date.getHours())) {
      date.setHours(date.getHours() + 1, 0, 0, 0)
    } else if (!schedule.minutes.has(date.getMinutes())) {
      date.setMinutes(date.getMinutes() + 1, 0, 0)
    } else if (!schedule.seconds.has(date.getSeconds())) {
      date.setSeconds(date.getSeconds() + 1, 0)
    } else {
      return date.getTime()
    }
  }
  throw invalid(expression, 'it never fires')
}

/** `nowMs → next poll time` for a polling setting; cron expressions are parsed (and checked) once. */
export function pollClock(polling: PollingInterval): (nowMs: number) => number {
  if (polling.kind === 'interval') return (nowMs) => nowMs + polling.ms
  const schedule = parseCron(polling.expression)
  return (nowMs) => nextCronTime(schedule, nowMs, polling.expression)
}
