// The `ums` command line (commander) on the SDK: parses the arguments, makes the calls, prints the
// result, and answers the exit code. The process is not touched here (main.ts wires it), so the
// whole program runs in a test as it does in a terminal.
import { Argument, Command, CommanderError, Option } from 'commander'
import { CLIENT_CODES, JOB_KINDS, UmsError, createUmsClient, type AcceptedJob, type Job, type JobKind, type UmsClient, type UserState } from '../index.js'
import * as out from './output.js'
import { progressReporter, type ProgressStream } from './progress.js'
import { UsageError, collect, header, idsFile, jsonFile, jsonObject, keyValues, nonNegativeInteger, oneOf } from './values.js'

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const

export const DEFAULT_URL = 'http://localhost:3000'

export interface CliIO {
  stdout: ProgressStream
  stderr: ProgressStream
  env: Record<string, string | undefined>
  /** Registers the Ctrl-C handler of a wait; answers its removal. */
  onInterrupt(handler: () => void): () => void
  fetch?: (request: Request) => Promise<Response>
  /** Time between two reads of a job waited for (default 500 ms). */
  pollIntervalMs?: number
}

const STATES: readonly UserState[] = ['PUBLIC', 'DRAFT', 'TRASH', 'DELETED']
/** Users per page when --query names the users of an activation. */
const QUERY_PAGE = 200

const HELP_AFTER = `
Output: --output table (the default on a terminal) or json (the default otherwise: the documented
body alone on stdout). Progress goes to stderr: a bar on a terminal, a line every few seconds
otherwise.

Exit codes:
  0    success
  1    an API error (printed as "code: message" on stderr), or a job that ended failed or with
       failed items (failed activations or emails, failed repairs)
  2    a usage error (unknown command or option, a missing or invalid value)
  130  Ctrl-C while waiting for a job: the job goes on, and the command that resumes watching it
       is printed`

interface Globals {
  url: string
  header?: string[]
  output?: out.OutputMode
}

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let exitCode: number = EXIT.ok
  const print = (text: string) => void io.stdout.write(text)
  const program = new Command('ums')

  program
    .description('Drive a ums (User Manager Service) from the terminal')
    .addOption(new Option('--url <url>', 'where ums answers (UMS_URL)').default(io.env.UMS_URL ?? DEFAULT_URL))
    .option('--header <name:value>', 'a header sent on every call (repeatable)', collect)
    .addOption(new Option('--output <mode>', 'table or json (default: table on a terminal, json otherwise)').choices(['table', 'json']))
    .exitOverride()
    .configureOutput({ writeOut: (text) => void io.stdout.write(text), writeErr: (text) => void io.stderr.write(text) })
    .showHelpAfterError('(add --help for the usage)')
    .addHelpText('after', HELP_AFTER)

  /** The client and the output mode of the command being run. */
  const contextOf = (command: Command) => {
    const globals = command.optsWithGlobals<Globals>()
    const headers = Object.fromEntries((globals.header ?? []).map(header))
    const client = createUmsClient({ baseUrl: globals.url, headers, ...(io.fetch ? { fetch: io.fetch } : {}) })
    const output: out.OutputMode = globals.output ?? (io.stdout.isTTY ? 'table' : 'json')
    return { client, output, globals }
  }

  const show = (output: out.OutputMode, body: unknown, table: () => string) => print(output === 'json' ? out.json(body) : table())

  /** The command that resumes watching a job: the same --url when one was given (headers may hold secrets: not repeated). */
  const resumeCommand = (globals: Globals, kind: JobKind, jobId: string) => {
    const url = program.getOptionValueSource('url') === 'cli' ? ` --url ${globals.url}` : ''
    const headers = (globals.header ?? []).length > 0 ? ' (with your --header options)' : ''
    return `ums${url} jobs get ${kind} ${jobId} --wait${headers}`
  }

  /** Waits for the job with a progress display; prints it, and sets the exit code of its outcome. */
  const follow = async <K extends JobKind>(command: Command, kind: K, jobId: string) => {
    const { client, output, globals } = contextOf(command)
    const label = kind === 'reconcile' ? 'reconcile (users and auth users checked)' : kind
    const reporter = progressReporter({ label, unit: 'items', stream: io.stderr, tty: io.stderr.isTTY === true })
    const controller = new AbortController()
    const stopListening = io.onInterrupt(() => controller.abort())
    let lastTotal = 0
    let job: Job<K>
    try {
      job = await client.jobs.wait(kind, jobId, {
        signal: controller.signal,
        intervalMs: io.pollIntervalMs ?? 500,
        onProgress: (progress) => {
          lastTotal = progress.total
          reporter.update(progress.done, progress.total, out.progressNote(progress))
        },
      })
    } catch (error) {
      reporter.stop()
      if (error instanceof UmsError && error.code === CLIENT_CODES.aborted) {
        io.stderr.write(`\nStopped watching: ${kind} job ${jobId} goes on on the server. Resume with:\n  ${resumeCommand(globals, kind, jobId)}\n`)
        exitCode = EXIT.interrupted
        return
      }
      throw error
    } finally {
      stopListening()
    }
    // The bar ends full even when the last read before the end showed no progress yet.
    const total = lastTotal || out.itemsOf(kind, job)
    if (job.status === 'completed' && total > 0) reporter.update(total, total)
    reporter.stop()
    show(output, job, () => out.job(kind, job))
    if (out.jobFailed(kind, job)) exitCode = EXIT.failed
  }

  /** The 202 of a job start, or the job once ended with --wait. */
  const started = async (command: Command, kind: JobKind, accepted: AcceptedJob, wait: boolean | undefined) => {
    if (wait) return follow(command, kind, accepted.jobId)
    const { output } = contextOf(command)
    show(output, accepted, () => `${out.fields(accepted)}Follow it: ums jobs get ${kind} ${accepted.jobId} --wait\n`)
  }

  const users = program.command('users').description('read, create, change and import users')

  users
    .command('list')
    .description('a page of users (GET /users/)')
    .option('--query <json>', 'MongoDB filter, a JSON object')
    .option('--state <states>', 'comma list of states (default PUBLIC)')
    .option('--limit <n>', 'at most n users')
    .option('--skip <n>', 'skip the first n users')
    .option('--sort <field>', 'sort field, -field for descending (repeatable)', collect)
    .option('--fields <a,b>', 'the fields to return')
    .action(async (options: { query?: string; state?: string; limit?: string; skip?: string; sort?: string[]; fields?: string }, command: Command) => {
      const { client, output } = contextOf(command)
      const list = await client.users.list({
        ...(options.query !== undefined ? { _q: jsonObject(options.query, '--query') } : {}),
        ...(options.state !== undefined ? { _st: options.state } : {}),
        ...(options.limit !== undefined ? { _l: nonNegativeInteger(options.limit, '--limit', 1) } : {}),
        ...(options.skip !== undefined ? { _sk: nonNegativeInteger(options.skip, '--skip') } : {}),
        ...(options.sort ? { _s: options.sort } : {}),
        ...(options.fields !== undefined ? { _p: options.fields } : {}),
      })
      const columns = options.fields === undefined ? undefined : ['_id', ...options.fields.split(',').map((field) => field.trim()).filter((field) => field !== '' && field !== '_id')]
      show(output, list, () => out.rows(list, columns))
    })

  users
    .command('count')
    .description('the number of users (GET /users/count)')
    .option('--query <json>', 'MongoDB filter, a JSON object')
    .action(async (options: { query?: string }, command: Command) => {
      const { client, output } = contextOf(command)
      const count = await client.users.count(options.query === undefined ? {} : { _q: jsonObject(options.query, '--query') })
      show(output, count, () => `${count}\n`)
    })

  users
    .command('get')
    .description('one user (GET /users/{id})')
    .argument('<id>', 'the CRUD _id')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { client, output } = contextOf(command)
      const user = await client.users.get(id)
      show(output, user, () => out.fields(user))
    })

  users
    .command('create')
    .description('create a user in the CRUD and the auth service (POST /users/)')
    .requiredOption('--group <group>', 'the user group')
    .option('--set <key=value>', 'a field; the value is JSON when it parses, a string otherwise (repeatable)', collect)
    .option('--file <user.json>', 'fields from a JSON file (--set wins)')
    .option('--postpone-auth', 'create the CRUD user only (postponeAuthUserCreation)')
    .action(async (options: { group: string; set?: string[]; file?: string; postponeAuth?: boolean }, command: Command) => {
      const fromFile = options.file === undefined ? {} : await jsonFile(options.file, '--file')
      const body = { ...fromFile, ...keyValues(options.set, '--set'), userGroup: options.group }
      const { client, output } = contextOf(command)
      const created = await client.users.create(body, options.postponeAuth ? { postponeAuthUserCreation: true } : {})
      show(output, created, () => out.fields(created))
    })

  users
    .command('patch')
    .description('change a user with update operators (PATCH /users/{id})')
    .argument('<id>', 'the CRUD _id')
    .option('--set <key=value>', '$set a field (repeatable)', collect)
    .option('--unset <key>', '$unset a field (repeatable)', collect)
    .option('--push <key=value>', '$push a value onto an array field (repeatable)', collect)
    .action(async (id: string, options: { set?: string[]; unset?: string[]; push?: string[] }, command: Command) => {
      const operators = {
        ...(options.set ? { $set: keyValues(options.set, '--set') } : {}),
        ...(options.unset ? { $unset: Object.fromEntries(options.unset.map((key) => [key, true])) } : {}),
        ...(options.push ? { $push: keyValues(options.push, '--push') } : {}),
      }
      if (Object.keys(operators).length === 0) throw new UsageError('give at least one of --set, --unset, --push')
      const { client, output } = contextOf(command)
      const user = await client.users.patch(id, operators)
      show(output, user, () => out.fields(user))
    })

  users
    .command('delete')
    .description('delete a user from the CRUD and the auth service (DELETE /users/{id})')
    .argument('<id>', 'the CRUD _id')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { client, output } = contextOf(command)
      await client.users.delete(id)
      show(output, { _id: id, deleted: true }, () => `Deleted user ${id}\n`)
    })

  users
    .command('state')
    .description('move users to another state (POST /users/state)')
    .addOption(new Option('--to <state>', 'the new state').choices(STATES).makeOptionMandatory())
    .option('--id <id>', 'a user to move (repeatable)', collect)
    .option('--query <json>', 'the users to move, a MongoDB filter')
    .action(async (options: { to: UserState; id?: string[]; query?: string }, command: Command) => {
      oneOf(options, ['id', 'query'])
      const filters = options.id ? options.id.map((id) => ({ _id: id })) : [jsonObject(options.query!, '--query')]
      const { client, output } = contextOf(command)
      const moved = await client.users.changeState(filters.map((filter) => ({ filter, stateTo: options.to })))
      show(output, moved, () => `${moved} user${moved === 1 ? '' : 's'} moved to ${options.to}\n`)
    })

  users
    .command('import')
    .description('import users from a CSV file (PATCH /users/import)')
    .argument('<file>', 'the CSV file, header row first (userGroup required)')
    .option('--delimiter <c>', 'cell delimiter (default ,)')
    .option('--escape <c>', 'escape character in quoted cells, or null')
    .option('--encoding <e>', 'text encoding (default utf8)')
    .action(async (file: string, options: { delimiter?: string; escape?: string; encoding?: string }, command: Command) => {
      const { client, output } = contextOf(command)
      const reporter = progressReporter({ label: 'upload', unit: 'bytes', stream: io.stderr, tty: io.stderr.isTTY === true })
      let result
      try {
        result = await client.users.importCsv(file, { ...options, onProgress: ({ sent, total }) => reporter.update(sent, total) })
      } catch (error) {
        // A file system error (ENOENT, EACCES, EISDIR, ...) names the file given.
        const { code, syscall } = error as NodeJS.ErrnoException
        if (code !== undefined && syscall !== undefined) throw new UsageError(`${file} cannot be read: ${code}`)
        throw error
      } finally {
        reporter.stop()
      }
      show(output, result, () => out.importResult(result))
    })

  const jobs = program.command('jobs').description('start bulk jobs and watch them')

  jobs
    .command('activate')
    .description('create the auth users of CRUD users (POST /jobs/bulk-activation)')
    .option('--id <id>', 'a CRUD _id (repeatable)', collect)
    .option('--ids-file <file>', 'CRUD _ids, one per line')
    .option('--query <json>', 'the users matching this MongoDB filter (PUBLIC ones)')
    .option('--no-upsert', 'fail the users whose email the auth service already has, instead of linking them')
    .option('--wait', 'wait for the job, with its progress')
    .action(async (options: { id?: string[]; idsFile?: string; query?: string; upsert: boolean; wait?: boolean }, command: Command) => {
      oneOf(options, ['id', 'idsFile', 'query'])
      const { client } = contextOf(command)
      const ids = options.id ?? (options.idsFile !== undefined ? await idsFile(options.idsFile) : await matchingIds(client, jsonObject(options.query!, '--query')))
      if (ids.length === 0 && options.query !== undefined) throw new UmsError(200, 'UMS_CLI_NO_MATCH', 'no user matches --query: nothing to activate')
      if (ids.length === 0) throw new UsageError(`${options.idsFile} holds no id`)
      const accepted = await client.jobs.bulkActivation(
        ids.map((userId) => ({ filter: { userId } })),
        { upsert: options.upsert },
      )
      await started(command, 'bulk-activation', accepted, options.wait)
    })

  jobs
    .command('change-password')
    .description('send the change-password email to auth users (POST /jobs/change-password/bulk)')
    .option('--id <authUserId>', 'an auth user id (repeatable)', collect)
    .option('--ids-file <file>', 'auth user ids, one per line')
    .option('--wait', 'wait for the job, with its progress')
    .action(async (options: { id?: string[]; idsFile?: string; wait?: boolean }, command: Command) => {
      oneOf(options, ['id', 'idsFile'])
      const ids = options.id ?? (await idsFile(options.idsFile!))
      if (ids.length === 0) throw new UsageError(`${options.idsFile} holds no id`)
      const { client } = contextOf(command)
      await started(command, 'change-password', await client.jobs.changePassword(ids), options.wait)
    })

  jobs
    .command('reconcile')
    .description('check, and with --repair repair, users across the CRUD, the auth service and the timers (POST /jobs/reconcile)')
    .option('--repair', 'repair what can be (a dry run otherwise)')
    .option('--delete-orphan-auth-users', 'delete the auth users no CRUD user points to')
    .option('--wait', 'wait for the job, with its progress')
    .action(async (options: { repair?: boolean; deleteOrphanAuthUsers?: boolean; wait?: boolean }, command: Command) => {
      const { client } = contextOf(command)
      const accepted = await client.jobs.reconcile({ dryRun: options.repair !== true, deleteOrphanAuthUsers: options.deleteOrphanAuthUsers === true })
      await started(command, 'reconcile', accepted, options.wait)
    })

  jobs
    .command('get')
    .description('a job: pending with its progress, or its result')
    .addArgument(new Argument('<kind>', 'the job kind').choices(JOB_KINDS))
    .argument('<id>', 'the job id')
    .option('--wait', 'wait for the job to end, with its progress')
    .action(async (kind: JobKind, id: string, options: { wait?: boolean }, command: Command) => {
      if (options.wait) return follow(command, kind, id)
      const { client, output } = contextOf(command)
      const job = await client.jobs.get(kind, id)
      show(output, job, () => out.job(kind, job))
      if (out.jobFailed(kind, job)) exitCode = EXIT.failed
    })

  try {
    await program.parseAsync(argv, { from: 'user' })
    return exitCode
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the message or the help already.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? EXIT.ok : EXIT.usage
    }
    if (error instanceof UsageError) {
      io.stderr.write(`error: ${error.message}\n(add --help for the usage)\n`)
      return EXIT.usage
    }
    if (error instanceof UmsError) {
      io.stderr.write(`${error.code}: ${error.message}\n`)
      return EXIT.failed
    }
    throw error
  }
}

/** The _id of every (PUBLIC) user matching `filter`, page by page. */
async function matchingIds(client: UmsClient, filter: Record<string, unknown>): Promise<string[]> {
  const ids: string[] = []
  for (let skip = 0; ; skip += QUERY_PAGE) {
    const page = await client.users.list({ _q: filter, _p: '_id', _l: QUERY_PAGE, _sk: skip, _s: ['_id'] })
    ids.push(...page.map((user) => String(user._id)))
    if (page.length < QUERY_PAGE) return ids
  }
}
