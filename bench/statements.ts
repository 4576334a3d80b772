/**
 * `npm run bench:statements`: PostgreSQL's CPU time per delivery for each statement of the engine's path at
 * saturation (ingest, claim, outcome), measured as the serving backend's own CPU time (utime + stime from
 * /proc/<pid>/stat) rather than wall time. It moves less than throughput on a shared machine, but it does move
 * with the machine's other work: compare two versions by alternating their runs.
 *
 * It runs the engine's own functions (ingestEvents with the webhook fan-out, claimDue, completeMany) on a fresh
 * database, each through its own one-connection pool (so each statement kind has a backend of its own), with a
 * backlog waiting as in `npm run bench`'s throughput scenario: 4 webhooks, 12,000 deliveries due, claims of at
 * most 500 with room for 16 per target, every attempt delivered. Each round ingests 16 events (64 deliveries),
 * claims what the rooms allow and completes it.
 *
 *   npm run bench:statements -- [--mode embedded|served] [--rounds N]
 *
 * served needs DATABASE_URL (a database is created for the run and dropped after); PostgreSQL must run on this
 * machine (its backends' /proc entries are read).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { ingestEvents } from '../src/delivery/ingest.ts'
import { claimDue, completeMany } from '../src/delivery/store.ts'
import { newId } from '../src/lib/ids.ts'
import { openServed, type Querier } from '../src/store/db.ts'
import { startEmbeddedServer } from '../src/store/embedded.ts'
import { applyMigrations } from '../src/store/migrate.ts'
import { webhookFanout } from '../src/webhooks/fanout.ts'
import { createDatabase } from './patchbay.ts'
import { cpuSeconds } from './procstat.ts'

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: process.env.DATABASE_URL ? 'served' : 'embedded' },
    rounds: { type: 'string', default: '400' },
    backlog: { type: 'string', default: '12000' },
  },
})
const mode = values.mode === 'served' ? 'served' : 'embedded'
const rounds = Number(values.rounds)
const backlog = Number(values.backlog)
const TARGETS = 4
const say = (line: string) => process.stdout.write(`${line}\n`)
const PER_TARGET = 16

/** A process's CPU time so far, in ms. */
const cpuMs = (pid: number) => cpuSeconds(pid) * 1000

/** The backend serving `q`: its pool opens one connection while used one statement at a time. */
async function backendOf(q: Querier): Promise<number> {
  const [row] = await q.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  if (!row) throw new Error('no backend')
  return row.pid
}

async function run(url: string): Promise<void> {
  await applyMigrations(url)
  // One connection per statement kind: its backend's CPU is that statement's (plus its transaction's BEGIN/COMMIT).
  const ingestDb = openServed({ url, poolSize: 1 })
  const claimDb = openServed({ url, poolSize: 1 })
  const doneDb = openServed({ url, poolSize: 1 })
  try {
    const org = newId()
    const partner = newId()
    await ingestDb.query(
      `INSERT INTO partners (id, name, created_at, updated_at) VALUES ($1, 'bench', now(), now())`,
      [partner],
    )
    await ingestDb.query(
      `INSERT INTO orgs (id, partner_id, name, created_at, updated_at) VALUES ($1, $2, 'bench', now(), now())`,
      [org, partner],
    )
    for (let i = 0; i < TARGETS; i++) {
      await ingestDb.query(
        `INSERT INTO webhooks (id, org_id, name, url, events, created_at, updated_at)
         VALUES ($1, $2, $3, 'https://hooks.example.com/x', '{alert.triggered}', now(), now())`,
        [newId(), org, `hook ${i}`],
      )
    }
    let n = 0
    const ingest = (count: number) => {
      const now = new Date()
      const events = Array.from({ length: count }, () => ({
        orgId: org,
        id: `ev-${++n}`,
        type: 'alert.triggered',
        occurredAt: now,
        data: { severity: 'warning', device: { hostname: 'srv-01' }, n },
      }))
      return ingestEvents(ingestDb, [webhookFanout], events, now)
    }
    for (let queued = 0; queued < backlog; queued += 500 * TARGETS) await ingest(500)
    await ingestDb.query('ANALYZE')
    const [pi, pc, pd] = await Promise.all([
      backendOf(ingestDb),
      backendOf(claimDb.relaxed),
      backendOf(doneDb.relaxed),
    ])
    const spent = { ingest: 0, claim: 0, outcome: 0 }
    let delivered = 0
    for (let r = 0; r < rounds; r++) {
      let at = cpuMs(pi)
      await ingest(PER_TARGET)
      spent.ingest += cpuMs(pi) - at
      at = cpuMs(pc)
      const now = new Date()
      const claimed = await claimDue(claimDb.relaxed, {
        now,
        limit: 500,
        perTarget: PER_TARGET,
        busy: new Map(),
        leaseUntil: new Date(now.getTime() + 60_000),
        worker: 'bench',
      })
      spent.claim += cpuMs(pc) - at
      at = cpuMs(pd)
      await completeMany(
        doneDb.relaxed,
        claimed.map((d) => ({
          id: d.id,
          attempt: d.attempt,
          status: 'delivered' as const,
          nextAttemptAt: null,
          responseStatus: 200,
          responseBody: 'ok',
          responseTimeMs: 3,
          errorMessage: null,
          requestHeaders: null,
        })),
        new Date(),
        'bench',
      )
      spent.outcome += cpuMs(pd) - at
      delivered += claimed.length
    }
    const per = (ms: number) => ((ms * 1000) / delivered).toFixed(0).padStart(5)
    const total = spent.ingest + spent.claim + spent.outcome
    say(
      `${mode}: ${delivered.toLocaleString('en-US')} deliveries through ingest, claim and outcome, ${backlog.toLocaleString('en-US')} waiting`,
    )
    say(`PostgreSQL CPU per delivery, µs (the backend's own CPU time):`)
    say(`  ingest (events, deliveries, queue trigger) ${per(spent.ingest)}`)
    say(`  claim                                      ${per(spent.claim)}`)
    say(`  outcome                                    ${per(spent.outcome)}`)
    say(`  all three                                  ${per(total)}`)
  } finally {
    await Promise.all([ingestDb.close(), claimDb.close(), doneDb.close()])
  }
}

if (mode === 'served') {
  const base = process.env.DATABASE_URL
  if (!base) throw new Error('--mode served needs DATABASE_URL')
  const db = await createDatabase(base)
  try {
    await run(db.url)
  } finally {
    await db.drop()
  }
} else {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-statements-'))
  const server = await startEmbeddedServer({ dataDir: dir })
  try {
    await run(server.url)
  } finally {
    await server.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
