/** Summarises a V8 .cpuprofile (from `node --cpu-prof`): where self time goes, by function and by package. */
import fs from 'node:fs'
import path from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileEntry {
  name: string
  where: string
  ms: number
  /** Share of the busy (non-idle) time. */
  pct: number
}

export interface ProfileSummary {
  file: string
  totalMs: number
  idleMs: number
  busyMs: number
  top: ProfileEntry[]
  byPackage: { name: string; ms: number; pct: number }[]
}

/** Where code lives, coarsely: a dependency, a Patchbay source file, a Node internal, or V8 itself. */
function packageOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)'
  // undici's llhttp is a WebAssembly module, named by a hash.
  if (url.startsWith('wasm://')) return `wasm module ${url.split('/').pop()}`
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/')
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url)
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[1] ?? url.slice(5)}`
  const m = /\/(dist|src)\/(.+)$/.exec(url)
  if (m) return `patchbay ${(m[2] as string).split('/').slice(0, -1).join('/') || '.'}`
  return path.basename(url)
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length)
  const m = /\/((dist|src)\/.+)$/.exec(url)
  return m ? (m[1] as string) : url.replace(/^file:\/\//, '')
}

export function summariseProfile(file: string, topN = 25): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const fns = new Map<string, { name: string; where: string; us: number }>()
  const pkgs = new Map<string, number>()
  let total = 0
  let idle = 0
  for (const [id, us] of selfUs) {
    const node = byId.get(id)
    if (!node) continue
    total += us
    const { functionName, url, lineNumber } = node.callFrame
    if (functionName === '(idle)') {
      idle += us
      continue
    }
    const name = functionName || '(anonymous)'
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : ''
    const key = `${name}@${where}`
    const entry = fns.get(key) ?? { name, where, us: 0 }
    entry.us += us
    fns.set(key, entry)
    const pkg = packageOf(url, name)
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + us)
  }
  const busy = total - idle
  const pct = (us: number) => (busy > 0 ? (100 * us) / busy : 0)
  return {
    file,
    totalMs: total / 1000,
    idleMs: idle / 1000,
    busyMs: busy / 1000,
    top: [...fns.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((f) => ({ name: f.name, where: f.where, ms: f.us / 1000, pct: pct(f.us) })),
    byPackage: [...pkgs]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([name, us]) => ({ name, ms: us / 1000, pct: pct(us) })),
  }
}

export function formatProfile(s: ProfileSummary): string {
  const lines = [
    `CPU profile ${path.relative(process.cwd(), s.file)}: ${(s.totalMs / 1000).toFixed(1)} s sampled, ` +
      `${(s.busyMs / 1000).toFixed(1)} s busy (${((100 * s.busyMs) / Math.max(1, s.totalMs)).toFixed(0)}%)`,
    '  self time by package (share of busy time):',
    ...s.byPackage.map((p) => `    ${p.pct.toFixed(1).padStart(5)}%  ${p.name}`),
    '  top functions by self time:',
    ...s.top.map((f) => `    ${f.pct.toFixed(1).padStart(5)}%  ${f.name}  ${f.where}`),
  ]
  return lines.join('\n')
}

// `tsx bench/profile.ts <file.cpuprofile>…` summarises profiles taken elsewhere.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  for (const f of process.argv.slice(2)) process.stdout.write(`${formatProfile(summariseProfile(f))}\n`)
}
