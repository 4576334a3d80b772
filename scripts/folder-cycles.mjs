/**
 * Folder-level import circles under src/: which folders import each other, directly (A ↔ B) or around a longer
 * loop. dependency-cruiser's no-circular rule sees modules; a circle between folders can run through modules that
 * form no module circle, so this folds its graph to folders (each top-level file, such as server.ts, is its own
 * node) and reports the strongly connected groups and the pairs that import each other.
 *
 *   node scripts/folder-cycles.mjs            prints them
 *   node scripts/folder-cycles.mjs --check    also fails on a mutual pair not in scripts/known-folder-cycles.json
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const out = execFileSync(
  'npx',
  ['depcruise', 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json', '--no-progress'],
  { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
)
const { modules } = JSON.parse(out)
const say = (line) => process.stdout.write(`${line}\n`)

/** `src/psa/transport.ts` → `psa`; `src/server.ts` → `server.ts`. */
const folderOf = (path) => {
  const m = /^src\/([^/]+)/.exec(path)
  return m ? m[1] : undefined
}

const edges = new Map()
for (const mod of modules) {
  const from = folderOf(mod.source)
  if (!from) continue
  for (const dep of mod.dependencies) {
    const to = folderOf(dep.resolved)
    if (!to || to === from) continue
    if (!edges.has(from)) edges.set(from, new Map())
    const targets = edges.get(from)
    if (!targets.has(to)) targets.set(to, `${mod.source} → ${dep.resolved}`)
  }
}

// Tarjan's strongly connected components: every folder in a group reaches every other.
const index = new Map()
const low = new Map()
const stack = []
const onStack = new Set()
const groups = []
let next = 0
const visit = (v) => {
  index.set(v, next)
  low.set(v, next)
  next++
  stack.push(v)
  onStack.add(v)
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!index.has(w)) {
      visit(w)
      low.set(v, Math.min(low.get(v), low.get(w)))
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)))
  }
  if (low.get(v) === index.get(v)) {
    const group = []
    let w
    do {
      w = stack.pop()
      onStack.delete(w)
      group.push(w)
    } while (w !== v)
    if (group.length > 1) groups.push(group.sort())
  }
}
for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v)

const pairs = []
for (const [a, targets] of edges) {
  for (const [b, via] of targets) {
    if (a < b && edges.get(b)?.has(a)) pairs.push({ pair: `${a} ↔ ${b}`, via: [via, edges.get(b).get(a)] })
  }
}
pairs.sort((x, y) => x.pair.localeCompare(y.pair))

say(`${groups.length} folder circle group(s):`)
for (const g of groups) say(`  ${g.join(', ')}`)
say(`${pairs.length} pair(s) of folders importing each other:`)
for (const p of pairs) say(`  ${p.pair}\n      ${p.via[0]}\n      ${p.via[1]}`)

if (process.argv.includes('--check')) {
  const known = new Set(
    JSON.parse(readFileSync(new URL('./known-folder-cycles.json', import.meta.url), 'utf8')),
  )
  const added = pairs.filter((p) => !known.has(p.pair))
  if (added.length > 0) {
    console.error(`\nNew folder circle(s), not in scripts/known-folder-cycles.json:`)
    for (const p of added) console.error(`  ${p.pair}`)
    process.exit(1)
  }
  // No folder reaches back to itself around a longer loop either (none does since the Service and
  // RequestBudget contracts moved to lib/): a new group fails the check even when no two folders import each other.
  if (known.size === 0 && groups.length > 0) {
    console.error('\nNew folder circle group(s): every folder in a group reaches every other')
    for (const g of groups) console.error(`  ${g.join(', ')}`)
    process.exit(1)
  }
}
