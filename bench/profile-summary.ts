// `npx tsx bench/profile-summary.ts FILE.cpuprofile [top]`: where a child's CPU time went, from a
// V8 profile written with BENCH_CPU_PROF: self time by module (package, src file, node internals)
// and the top functions by self time.
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

function moduleOf(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)'
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/')
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg?.[1]) return pkg[1]
  const own = /\/(src|bench)\/(.*)$/.exec(url)
  if (own) return `${own[1]}/${own[2]}`
  return url
}

const [file, topArg] = process.argv.slice(2)
if (!file) {
  console.error('usage: tsx bench/profile-summary.ts FILE.cpuprofile [top]')
  process.exit(2)
}
const top = Number(topArg ?? 25)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile

// Self time per node from samples and their time deltas (µs).
const selfUs = new Map<number, number>()
const samples = profile.samples ?? []
const deltas = profile.timeDeltas ?? []
for (let index = 0; index < samples.length; index++) {
  const id = samples[index] as number
  selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[index + 1] ?? deltas[index] ?? 0))
}
const total = [...selfUs.values()].reduce((sum, value) => sum + value, 0)
const idle = profile.nodes.filter((node) => node.callFrame.functionName === '(idle)').reduce((sum, node) => sum + (selfUs.get(node.id) ?? 0), 0)

const byModule = new Map<string, number>()
const byFunction = new Map<string, number>()
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0
  if (us === 0 || node.callFrame.functionName === '(idle)') continue
  const { functionName, url, lineNumber } = node.callFrame
  const module = moduleOf(url, functionName)
  byModule.set(module, (byModule.get(module) ?? 0) + us)
  const key = `${functionName || '(anonymous)'}  ${module}:${lineNumber + 1}`
  byFunction.set(key, (byFunction.get(key) ?? 0) + us)
}

const busy = total - idle
const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`
console.log(`${file}\nbusy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s sampled\n\nself time by module:`)
for (const [module, us] of [...byModule].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${module}`)
console.log('\nself time by function:')
for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${name}`)
