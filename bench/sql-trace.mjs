/**
 * Loaded into a Patchbay process by `npm run bench -- --trace-sql` (node --import): counts every SQL statement
 * Patchbay sends, and the time until its result, per statement text, and writes the tally to
 * $PATCHBAY_BENCH_SQL_TRACE when the process exits. Patchbay's code is not touched; node-postgres's query method
 * is wrapped. Times include waiting for a connection, so they show where Patchbay waits, not only where
 * PostgreSQL works.
 */
import fs from 'node:fs'
import pg from 'pg'

const file = process.env.PATCHBAY_BENCH_SQL_TRACE
const stats = new Map()

/** The same tally per 15 s of the process's life, to tell a slow stretch from the rest. */
const buckets = new Map()
const born = performance.now()

function record(text, ms) {
  const key = String(text ?? '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 160)
  const s = stats.get(key) ?? { statement: key, count: 0, ms: 0 }
  s.count++
  s.ms += ms
  stats.set(key, s)
  const at = 15 * Math.floor((performance.now() - born) / 15_000)
  const bk = `${at}\u0000${key}`
  const b = buckets.get(bk) ?? { fromSecond: at, statement: key, count: 0, ms: 0 }
  b.count++
  b.ms += ms
  buckets.set(bk, b)
}

function textOf(q) {
  return typeof q === 'string' ? q : (q?.text ?? '')
}

function timed(orig, textArg) {
  return function (...args) {
    const started = performance.now()
    const text = textOf(args[textArg])
    const last = args[args.length - 1]
    if (typeof last === 'function') {
      args[args.length - 1] = function (...cbArgs) {
        record(text, performance.now() - started)
        return last.apply(this, cbArgs)
      }
      return orig.apply(this, args)
    }
    const result = orig.apply(this, args)
    if (result && typeof result.then === 'function') {
      return result.finally(() => record(text, performance.now() - started))
    }
    return result
  }
}

function wrap(proto, name, make) {
  let p = proto
  while (p && !Object.hasOwn(p, name)) p = Object.getPrototypeOf(p)
  if (p) p[name] = make(p[name])
}

if (file) {
  wrap(pg.Client.prototype, 'query', (orig) => timed(orig, 0))
  process.on('exit', () => {
    const list = [...stats.values()].sort((a, b) => b.ms - a.ms)
    fs.writeFileSync(file, `${JSON.stringify(list, null, 2)}\n`)
    const perBucket = [...buckets.values()].sort((a, b) => a.fromSecond - b.fromSecond || b.ms - a.ms)
    fs.writeFileSync(file.replace(/\.json$/, '-by-15s.json'), `${JSON.stringify(perBucket)}\n`)
  })
}
