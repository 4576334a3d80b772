/**
 * `npm run bench -- --scenario history`: the delivery history at scale. Seeds millions of history rows straight in
 * SQL (INSERT … SELECT generate_series, spread over 30 days, several organizations, webhooks and statuses), then
 * times the queries users run through the API's own functions: the deliveries list with each filter it offers
 * (first page, a deep page, and a cursor page), one delivery by id, and a webhook's deliveryStats.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { ensurePartitions, sealPartitions } from '../src/delivery/partitions.ts'
import { openServed } from '../src/store/db.ts'
import { startEmbeddedServer } from '../src/store/embedded.ts'
import { applyMigrations } from '../src/store/migrate.ts'
import type { TenantScope } from '../src/store/scope.ts'
import { type DeliveryFilter, deliveryStats, getDelivery, listDeliveries } from '../src/webhooks/store.ts'
import { createDatabase } from './patchbay.ts'

export interface HistoryOptions {
  rows: number
  days: number
  orgs: number
  webhooksPerOrg: number
  /** Timed runs of each query. */
  samples: number
  /** Reuse this database (seeded by an earlier run when it holds enough rows) instead of a fresh one. */
  url: string | undefined
  servedUrl: string | undefined
  mode: 'embedded' | 'served'
  keep: boolean
}

export interface QueryTiming {
  name: string
  p50: number
  p95: number
  p99: number
  max: number
  /** Rows the query returned, on its last run (a sanity check that it found something). */
  rows: number
}

export interface HistoryResult {
  mode: 'embedded' | 'served'
  rows: number
  partitions: number
  seedSeconds: number | null
  tableMb: number
  queries: QueryTiming[]
}

const DAY = 86_400_000
const id = (prefix: number, n: number) =>
  `${prefix.toString(16).padStart(8, '0')}-0000-7000-8000-${n.toString(16).padStart(12, '0')}`
const orgId = (o: number) => id(0xb0000000, o)
const hookId = (o: number, w: number) => id(0xb1000000, o * 1000 + w)

const log = (s: string) => process.stderr.write(`[history] ${s}\n`)

/**
 * Row i of n: made at start + i·span/n (so ids grow with time, as in production), event i/5 of organization
 * (i/5) mod orgs, fanned out to webhook i mod 5 of it. Statuses as a history looks: 1 in 20 failed (the dead
 * letters), the last 2,000 still pending or retrying, the rest delivered.
 */
async function seed(client: pg.Client, o: HistoryOptions, start: Date): Promise<number> {
  const began = Date.now()
  await client.query(
    `INSERT INTO partners (id, name, created_at, updated_at) VALUES ($1, 'bench', now(), now()) ON CONFLICT DO NOTHING`,
    [id(0xb2000000, 1)],
  )
  for (let org = 0; org < o.orgs; org++) {
    await client.query(
      `INSERT INTO orgs (id, partner_id, name, created_at, updated_at) VALUES ($1, $2, $3, now(), now())
       ON CONFLICT DO NOTHING`,
      [orgId(org), id(0xb2000000, 1), `org ${org}`],
    )
    for (let w = 0; w < o.webhooksPerOrg; w++) {
      await client.query(
        `INSERT INTO webhooks (id, org_id, name, url, events, created_at, updated_at)
         VALUES ($1, $2, $3, 'https://hooks.example.com/x', '{alert.triggered}', now(), now()) ON CONFLICT DO NOTHING`,
        [hookId(org, w), orgId(org), `hook ${w}`],
      )
    }
  }
  const events = Math.ceil(o.rows / o.webhooksPerOrg)
  const span = o.days * DAY
  const chunk = 1_000_000
  const types = `(ARRAY['alert.triggered','alert.resolved','device.offline','device.online','user.login'])`
  for (let lo = 0; lo < events; lo += chunk / o.webhooksPerOrg) {
    const hi = Math.min(events, lo + chunk / o.webhooksPerOrg)
    await client.query(
      `INSERT INTO events (org_id, id, type, occurred_at, data, created_at)
       SELECT ('b0000000-0000-7000-8000-' || lpad(to_hex(e % $3), 12, '0'))::uuid, 'ev' || e,
              ${types}[1 + (e / $3) % 5], t, jsonb_build_object('n', e, 'severity', 'warning'), t
       FROM generate_series($1::bigint, $2::bigint - 1) e,
            LATERAL (SELECT $4::timestamptz + (e * $5::double precision / $6) * interval '1 millisecond' AS t) x`,
      [lo, hi, o.orgs, start, span, events],
    )
  }
  for (let lo = 0; lo < o.rows; lo += chunk) {
    const hi = Math.min(o.rows, lo + chunk)
    await client.query(
      `INSERT INTO deliveries (id, org_id, target_type, target_id, event_id, event_type, status, attempts,
                               next_attempt_at, response_status, response_time_ms, error_message, created_at,
                               updated_at, delivered_at)
       SELECT patchbay_uuid_v7(t), ('b0000000-0000-7000-8000-' || lpad(to_hex(e % $3), 12, '0'))::uuid, 'webhook',
              ('b1000000-0000-7000-8000-' || lpad(to_hex((e % $3) * 1000 + i % $7), 12, '0'))::uuid,
              'ev' || e, ${types}[1 + (e / $3) % 5], s::delivery_status,
              CASE s WHEN 'delivered' THEN 1 WHEN 'failed' THEN 6 WHEN 'retrying' THEN 2 ELSE 0 END,
              CASE WHEN s IN ('pending', 'retrying') THEN t END,
              CASE s WHEN 'delivered' THEN 200 WHEN 'failed' THEN 503 END,
              CASE WHEN s IN ('delivered', 'failed') THEN 40 + i % 200 END,
              CASE WHEN s = 'failed' THEN 'HTTP 503' END,
              t, t, CASE WHEN s = 'delivered' THEN t + interval '50 milliseconds' END
       FROM generate_series($1::bigint, $2::bigint - 1) i,
            LATERAL (SELECT i / $7 AS e, $4::timestamptz + (i * $5::double precision / $6) * interval '1 millisecond' AS t,
                            CASE WHEN i >= $6 - 2000 THEN (CASE WHEN i % 2 = 0 THEN 'pending' ELSE 'retrying' END)
                                 WHEN abs(hashint8(i)) % 20 = 7 THEN 'failed' ELSE 'delivered' END AS s) x`,
      [lo, hi, o.orgs, start, span, o.rows, o.webhooksPerOrg],
    )
    log(
      `seeded ${hi.toLocaleString('en-US')} of ${o.rows.toLocaleString('en-US')} deliveries (${Math.round((Date.now() - began) / 1000)} s)`,
    )
  }
  log('VACUUM ANALYZE')
  await client.query('VACUUM ANALYZE deliveries')
  await client.query('VACUUM ANALYZE events')
  await client.query('VACUUM ANALYZE delivery_queue')
  return (Date.now() - began) / 1000
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN
}

async function timed(
  name: string,
  samples: number,
  run: (i: number) => Promise<number>,
): Promise<QueryTiming> {
  // Two untimed runs: the first of a kind pays for catalog lookups and cold pages, as after any restart.
  await run(0)
  await run(1)
  const t: number[] = []
  let rows = 0
  for (let i = 0; i < samples; i++) {
    const s = performance.now()
    rows = await run(i)
    t.push(performance.now() - s)
  }
  t.sort((a, b) => a - b)
  return {
    name,
    p50: percentile(t, 0.5),
    p95: percentile(t, 0.95),
    p99: percentile(t, 0.99),
    max: t.at(-1) ?? 0,
    rows,
  }
}

export async function historyBench(o: HistoryOptions): Promise<HistoryResult> {
  let url = o.url
  const cleanup: (() => Promise<void>)[] = []
  if (!url && o.mode === 'served') {
    if (!o.servedUrl) throw new Error('the served history bench needs DATABASE_URL or --history-url')
    const db = await createDatabase(o.servedUrl)
    url = db.url
    if (!o.keep) cleanup.push(db.drop)
    else log(`keeping database ${db.name}`)
  } else if (!url) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-history-'))
    const server = await startEmbeddedServer({ dataDir: dir })
    url = server.url
    cleanup.push(async () => {
      await server.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    })
  }
  try {
    await applyMigrations(url)
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    const now = new Date()
    // The seeded month ends an hour ago; its days' partitions (and the week ahead) exist first.
    const end = new Date(now.getTime() - 3_600_000)
    const start = new Date(end.getTime() - o.days * DAY)
    const q = {
      query: async <T>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as T[],
    }
    const [have] = await q.query<{ n: number }>('SELECT count(*)::int AS n FROM deliveries')
    // A fresh database counts as ended every day before yesterday (its migrations sealed them): a day's partition
    // made now would be counted at once and get the row triggers that keep its counts exact, and seeding would
    // then pay a trigger call and a delivery_day_counts upsert per row (an hour for 10 million rows instead of
    // minutes). Seeded uncounted, the days are counted in bulk by sealing below, as the hourly job does.
    if ((have?.n ?? 0) === 0) await client.query('DELETE FROM delivery_counted_through')
    await client.query('SELECT patchbay_ensure_delivery_partitions($1::date, $2::date)', [start, end])
    await ensurePartitions(q, now)
    let seedSeconds: number | null = null
    if ((have?.n ?? 0) < o.rows) {
      if ((have?.n ?? 0) > 0)
        throw new Error(`the database holds ${have?.n} deliveries, fewer than --history-rows`)
      log(
        `seeding ${o.rows.toLocaleString('en-US')} deliveries over ${o.days} days, ${o.orgs} orgs × ${o.webhooksPerOrg} webhooks`,
      )
      seedSeconds = await seed(client, o, start)
    } else log(`reusing ${have?.n.toLocaleString('en-US')} deliveries`)
    // What the hourly partition job does as days end: status indexes on the days before yesterday.
    const sealing = Date.now()
    const sealed = await sealPartitions(q, now)
    if (sealed > 0) {
      log(`sealed ${sealed} days in ${Math.round((Date.now() - sealing) / 1000)} s`)
      await client.query('ANALYZE deliveries')
    }
    const [size] = await q.query<{ mb: number; parts: number }>(
      `SELECT (sum(pg_total_relation_size(i.inhrelid)) / 1048576)::int AS mb, count(*)::int AS parts
       FROM pg_inherits i WHERE i.inhparent = 'deliveries'::regclass`,
    )
    const [total] = await q.query<{ n: number }>('SELECT count(*)::int AS n FROM deliveries')
    await client.end()

    // What the API runs: its own functions, on a pool like the server's.
    const db = openServed({ url, poolSize: 4 })
    const orm = db.orm
    const system: TenantScope = { kind: 'system' }
    const org = (i: number) => orgId(i % o.orgs)
    const hook = (i: number) => hookId(i % o.orgs, Math.floor(i / o.orgs) % o.webhooksPerOrg)
    const day = (i: number) => new Date(start.getTime() + ((i * 7) % o.days) * DAY)
    const list = async (f: DeliveryFilter, page = 1, limit = 50) =>
      (await listDeliveries(orm, system, f, { page, limit })).items.length
    const [sample] = await db.query<{ id: string }>(
      `SELECT id FROM deliveries WHERE org_id = $1 ORDER BY id DESC OFFSET 20000 LIMIT 1`,
      [org(0)],
    )
    const ids = await db.query<{ id: string }>(
      `SELECT id FROM deliveries TABLESAMPLE BERNOULLI (${Math.min(100, (100 * 2000) / Math.max(1, total?.n ?? 1))}) LIMIT 200`,
    )
    const queries: QueryTiming[] = []
    const add = async (name: string, run: (i: number) => Promise<number>) => {
      const r = await timed(name, o.samples, run)
      log(`${name}: p50 ${r.p50.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms (${r.rows} rows)`)
      queries.push(r)
    }
    await add('list: org, first page', (i) => list({ orgId: org(i) }))
    await add('list: org + status=failed', (i) => list({ orgId: org(i), status: 'failed' }))
    await add('list: org + status=delivered', (i) => list({ orgId: org(i), status: 'delivered' }))
    await add('list: org + status=retrying', (i) => list({ orgId: org(i), status: 'retrying' }))
    await add('list: webhookId', (i) => list({ orgId: org(i), targetType: 'webhook', targetId: hook(i) }))
    await add('list: webhookId + status=failed', (i) =>
      list({ orgId: org(i), targetType: 'webhook', targetId: hook(i), status: 'failed' }),
    )
    await add('list: org + eventType', (i) => list({ orgId: org(i), eventType: 'device.offline' }))
    await add('list: org + one day (from/to)', (i) =>
      list({ orgId: org(i), from: day(i), to: new Date(day(i).getTime() + DAY) }),
    )
    await add('list: all orgs (system key)', () => list({}))
    await add('list: org, page 200 (offset 9,950)', (i) => list({ orgId: org(i) }, 200))
    if (sample) {
      const after = sample.id
      await add('list: org, cursor 20,000 deep', () => list({ orgId: org(0), after }))
      await add('list: org + status=failed, cursor 20,000 deep', () =>
        list({ orgId: org(0), status: 'failed', after }),
      )
    }
    await add('get: one delivery by id', async (i) =>
      (await getDelivery(orm, system, ids[i % ids.length]?.id ?? '')) ? 1 : 0,
    )
    await add('deliveryStats: one webhook', async (i) => (await deliveryStats(orm, org(i), hook(i))).total)
    await db.close()
    return {
      mode: o.mode,
      rows: total?.n ?? 0,
      partitions: size?.parts ?? 0,
      seedSeconds,
      tableMb: size?.mb ?? 0,
      queries,
    }
  } finally {
    for (const c of cleanup) await c()
  }
}
