// The production entry (or another of ums's own entries) bundled into one JavaScript file, once per
// test process: a process started from it runs plain node, where one started through tsx first
// spends a second or more of CPU transpiling the sources, on a machine running other test files.
// Packages stay outside the bundle, loaded from node_modules as in production.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildSync } from 'esbuild'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/**
 * Two levels below the checkout, as the sources' own files are: paths the sources take relative to
 * themselves (package.json, two levels up) resolve as they do from src/.
 */
const BUNDLES = join(ROOT, 'node_modules', '.ums-test-bundles')

const built = new Map<string, string>()

/** The bundle of `entry` (a path below the checkout, e.g. `src/index.ts`), built on first use. */
export function bundled(entry: string): string {
  const known = built.get(entry)
  if (known) return known
  const outfile = join(BUNDLES, `${entry.replace(/[^a-z0-9]+/gi, '-')}-${process.pid}-${Date.now()}.mjs`)
  buildSync({ entryPoints: [join(ROOT, entry)], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'silent' })
  process.once('exit', () => rmSync(outfile, { force: true }))
  built.set(entry, outfile)
  return outfile
}
