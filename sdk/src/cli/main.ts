#!/usr/bin/env node
// The `ums` executable (package.json bin): runs the command line on this process's streams and
// exits with its code. Ctrl-C during a wait is handed to the program, which stops watching.
import { runCli } from './program.js'

// A reader that stops early (`ums users list | head`) closes the pipe: not a failure of the command.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
    process.exit(process.exitCode ?? 0)
  })
}

const exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  onInterrupt(handler) {
    process.on('SIGINT', handler)
    return () => process.off('SIGINT', handler)
  },
})
process.exitCode = exitCode
