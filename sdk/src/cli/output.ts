// What the commands print on stdout: the documented body as JSON (`--output json`), or tables
// (cli-table3) for people. Tables have no colours, so they read the same in a pipe or a log.
import Table from 'cli-table3'
import type { ImportResult, Job, JobKind, JobProgress } from '../index.js'

export type OutputMode = 'table' | 'json'

/** Rows of a findings or failures table shown before "… and N more". */
export const TABLE_ROWS = 100

// compact: no line between two rows, so long lists stay readable.
const plain = { style: { head: [] as string[], border: [] as string[], compact: true } }

export function cell(value: unknown): string {
  if (value === undefined || value === null) return ''
  return typeof value === 'string' ? value : JSON.stringify(value)
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`
}

/** A table with a head row. */
export function table(head: string[], rows: unknown[][]): string {
  const out = new Table({ head, ...plain })
  for (const row of rows) out.push(row.map(cell))
  return `${out.toString()}\n`
}

/** One object as field | value rows. */
export function fields(object: Record<string, unknown>): string {
  return table(['field', 'value'], Object.entries(object))
}

/** Objects (users) as rows; the columns are `columns`, or every key in the order first seen. */
export function rows(objects: Array<Record<string, unknown>>, columns?: string[]): string {
  if (objects.length === 0) return '(none)\n'
  const keys = columns ?? [...new Set(objects.flatMap((object) => Object.keys(object)))]
  return table(keys, objects.map((object) => keys.map((key) => object[key])))
}

function limited(head: string[], list: unknown[][], what: string): string {
  if (list.length === 0) return ''
  const more = list.length > TABLE_ROWS ? `… and ${list.length - TABLE_ROWS} more ${what} (--output json lists them all)\n` : ''
  return table(head, list.slice(0, TABLE_ROWS)) + more
}

export function importResult(result: ImportResult): string {
  const counts = table(['inserted', 'updated', 'invalid'], [[result.inserted.length, result.updated.length, result.invalid.length]])
  return counts + limited(['row', 'reason'], result.invalid.map((item) => [item.row, item.error]), 'invalid rows')
}

/** What a pending job reports besides done/total: a reconciliation's pages read and findings so far. */
export function progressNote(progress: Partial<JobProgress>): string {
  if (progress.pagesRead === undefined) return ''
  return `pages ${progress.pagesRead}, findings ${progress.findings ?? 0}`
}

/** A job: its state and summary, then its failures or findings. */
export function job<K extends JobKind>(kind: K, body: Job<K>): string {
  const { jobId, status, jobCreatedAt } = body
  const head: Record<string, unknown> = { job: `${kind} ${jobId}`, status, created: jobCreatedAt }
  if (status === 'pending') {
    if (body.progress) {
      const { done = 0, total = 0, ...figures } = body.progress as Partial<JobProgress>
      head.progress = [`${done}/${total}`, progressNote(figures)].filter((part) => part !== '').join(', ')
    }
    return fields(head)
  }
  if (kind === 'bulk-activation') {
    const activation = body as Job<'bulk-activation'>
    const failures = (activation.failures ?? []).flatMap((failure) => (failure.errors ?? [{}]).map((error) => [failure.userId, error.code, error.message]))
    return fields({ ...head, ...activation.summary }) + limited(['userId', 'code', 'message'], failures, 'failures')
  }
  if (kind === 'change-password') {
    const emails = body as Job<'change-password'>
    const failures = (emails.failures ?? []).map((failure) => [failure.authUserId, failure.message])
    return fields({ ...head, ...emails.summary }) + limited(['authUserId', 'message'], failures, 'failures')
  }
  const reconcile = body as Job<'reconcile'>
  const summary = reconcile.summary
  const checks = Object.entries(summary?.found ?? {}).map(([check, found]) => {
    const actions = (reconcile.findings ?? []).filter((finding) => finding.check === check)
    const count = (action: string) => actions.filter((finding) => finding.action === action).length
    return [check, found, count('repaired'), count('repair-failed'), count('skipped-recent')]
  })
  const findings = (reconcile.findings ?? []).map((finding) => [finding.check, finding.crudId, finding.authUserId, (finding.fields ?? []).join(','), finding.action])
  return (
    fields({ ...head, dryRun: reconcile.dryRun, usersChecked: summary?.usersChecked, authUsersChecked: summary?.authUsersChecked, repaired: summary?.repaired, repairFailed: summary?.repairFailed }) +
    table(['check', 'found', 'repaired', 'repair failed', 'skipped (recent)'], checks) +
    limited(['check', 'crudId', 'authUserId', 'fields', 'action'], findings, 'findings') +
    (reconcile.findingsTruncated ? 'The job listed the first findings only; the counts above are complete.\n' : '')
  )
}

/** Whether an ended job counts as failed for the exit code: failed as a whole, or with failed items. */
export function jobFailed<K extends JobKind>(kind: K, body: Job<K>): boolean {
  if (body.status === 'failed') return true
  if (body.status !== 'completed') return false
  if (kind === 'reconcile') return ((body as Job<'reconcile'>).summary?.repairFailed ?? 0) > 0
  return ((body as Job<'bulk-activation'> | Job<'change-password'>).summary?.failed ?? 0) > 0
}

/** What a completed job's progress counted: its users, its ids, or the users and auth users checked. */
export function itemsOf<K extends JobKind>(kind: K, body: Job<K>): number {
  if (kind === 'reconcile') {
    const summary = (body as Job<'reconcile'>).summary
    return (summary?.usersChecked ?? 0) + (summary?.authUsersChecked ?? 0)
  }
  if (kind === 'bulk-activation') {
    const summary = (body as Job<'bulk-activation'>).summary
    return (summary?.total ?? 0) + (summary?.skipped ?? 0)
  }
  return (body as Job<'change-password'>).summary?.total ?? 0
}
