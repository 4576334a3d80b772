/**
 * Loaded into a Patchbay process by `npm run bench -- --trace-sql` (node --import): counts every SQL statement
 * Patchbay sends, and the time until its result, per statement text, for node-postgres and PGlite alike, and
 * writes the tally to $PATCHBAY_BENCH_SQL_TRACE when the process exits. Patchbay's code is not touched; the
 * drivers' query methods are wrapped. Times include waiting for a connection (pg) or for the embedded
 * database's single executor (PGlite), so they show where Patchbay waits, not only where PostgreSQL works.
 */
import fs from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
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
  wrap(PGlite.prototype, 'query', (orig) => timed(orig, 0))
  wrap(PGlite.prototype, 'exec', (orig) => timed(orig, 0))
  // A PGlite transaction hands its callback a separate object whose query and exec skip the prototype.
  wrap(
    PGlite.prototype,
    'transaction',
    (orig) =>
      function (callback) {
        const started = performance.now()
        return orig
          .call(this, (tx) => {
            tx.query = timed(tx.query.bind(tx), 0)
            tx.exec = timed(tx.exec.bind(tx), 0)
            return callback(tx)
          })
          .finally(() => record('(PGlite transaction, BEGIN to COMMIT)', performance.now() - started))
      },
  )
  // The embedded executor's own time: PGlite runs each protocol message synchronously; a Parse message names
  // the statement the following Bind/Execute belong to.
  let current = '(no statement)'
  const decoder = new TextDecoder()
  wrap(
    PGlite.prototype,
    'execProtocolRawSync',
    (orig) =>
      function (message) {
        if (message?.[0] === 0x50) {
          const nameEnd = message.indexOf(0, 5)
          const textEnd = message.indexOf(0, nameEnd + 1)
          if (nameEnd > 0 && textEnd > nameEnd)
            current = decoder.decode(message.subarray(nameEnd + 1, textEnd))
        } else if (message?.[0] === 0x51) {
          const end = message.indexOf(0, 5)
          current = decoder.decode(message.subarray(5, end > 0 ? end : undefined))
        }
        const started = performance.now()
        try {
          return orig.call(this, message)
        } finally {
          record(`[executor] ${current}`, performance.now() - started)
        }
      },
  )
  process.on('exit', () => {
    const list = [...stats.values()].sort((a, b) => b.ms - a.ms)
    fs.writeFileSync(file, `${JSON.stringify(list, null, 2)}\n`)
    const perBucket = [...buckets.values()].sort((a, b) => a.fromSecond - b.fromSecond || b.ms - a.ms)
    fs.writeFileSync(file.replace(/\.json$/, '-by-15s.json'), `${JSON.stringify(perBucket)}\n`)
  })
}
