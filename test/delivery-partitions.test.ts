import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensurePartitions, listPartitions, PARTITION_LOCK_KEY } from '../src/delivery/partitions.ts'
import { pruneDeliveries } from '../src/delivery/retention.ts'
import { JobService } from '../src/jobs/service.ts'
import { deliveryStats } from '../src/webhooks/store.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { createHarness, type Harness } from './harness.ts'
import { Receiver } from './standins/receiver.ts'

/**
 * The delivery history is partitioned by UTC day (drizzle/0018): a job creates the coming days' partitions, and
 * retention drops a day whole once it has ended past the retention age and holds only finished deliveries.
 */

let h: Harness
let rx: Receiver
let jobs: JobService
beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_DELIVERY_RETENTION_DAYS: '30' } })
  rx = await new Receiver().start()
  jobs = new JobService(h.ctx, WIRED_JOBS)
})
afterAll(async () => {
  await rx.stop()
  await h.close()
})

const days = async (from: string, to: string) =>
  (await listPartitions(h.ctx.db)).map((p) => p.day).filter((d) => d >= from && d <= to)

/** The status indexes on the partitions of days `from` … `to`. */
async function sealed(from: string, to: string): Promise<string[]> {
  const rows = await h.ctx.db.query<{ name: string }>(
    `SELECT indexname AS name FROM pg_indexes WHERE indexname ~ '^deliveries_p[0-9]{8}_(target_)?status_idx$'
       AND substr(indexname, 13, 8) BETWEEN $1 AND $2 ORDER BY indexname`,
    [from.replaceAll('-', ''), to.replaceAll('-', '')],
  )
  return rows.map((r) => r.name)
}

async function exists(table: string): Promise<boolean> {
  const [r] = await h.ctx.db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table])
  return r?.t != null
}

/** Where each of the org's deliveries is stored, by event id. */
async function placement(orgId: string): Promise<Record<string, string>> {
  const rows = await h.ctx.db.query<{ event_id: string; part: string }>(
    `SELECT event_id, tableoid::regclass::text AS part FROM deliveries WHERE org_id = $1 ORDER BY event_id`,
    [orgId],
  )
  return Object.fromEntries(rows.map((r) => [r.event_id, r.part]))
}

/**
 * A webhook's deliveryStats (per-day counts for the days that are counted, drizzle/0021, plus the rest counted
 * from the history) equal a count of its history, in-progress aside.
 */
async function expectStatsMatchHistory(orgId: string): Promise<void> {
  const hooks = await h.ctx.db.query<{ id: string }>('SELECT id FROM webhooks WHERE org_id = $1', [orgId])
  for (const { id } of hooks) {
    const counted = await h.ctx.db.query<{ status: string; n: number; last: Date | null }>(
      `SELECT status, count(*)::int AS n, max(delivered_at) AS last FROM deliveries
       WHERE org_id = $1 AND target_id = $2 GROUP BY status`,
      [orgId, id],
    )
    const by = Object.fromEntries(counted.map((r) => [r.status, r.n]))
    const last = counted.map((r) => r.last?.getTime() ?? 0).reduce((a, b) => Math.max(a, b), 0)
    const stats = await deliveryStats(h.ctx.db.orm, orgId, id)
    expect(stats).toEqual({
      total: counted.reduce((a, r) => a + r.n, 0),
      pending: by.pending ?? 0,
      inProgress: 0,
      delivered: by.delivered ?? 0,
      failed: by.failed ?? 0,
      retrying: by.retrying ?? 0,
      lastDeliveredAt: last ? new Date(last) : null,
    })
  }
}

describe('delivery history partitions', () => {
  it('the scheduled job creates partitions from yesterday to a week ahead, and again as days pass', async () => {
    // The harness clock starts at 2026-02-18T12:00Z; the template database was migrated at the real date.
    await jobs.runDue()
    expect(await days('2026-02-01', '2026-03-31')).toEqual([
      '2026-02-17',
      '2026-02-18',
      '2026-02-19',
      '2026-02-20',
      '2026-02-21',
      '2026-02-22',
      '2026-02-23',
      '2026-02-24',
      '2026-02-25',
    ])
    // Idempotent: nothing more to make on the same day.
    expect(await ensurePartitions(h.ctx.db, h.clock.now())).toBe(0)
    expect(await sealed('2026-02-01', '2026-03-31')).toEqual([])
    h.clock.advance(2 * 86_400_000)
    await jobs.runDue()
    expect((await days('2026-02-01', '2026-03-31')).slice(-3)).toEqual([
      '2026-02-25',
      '2026-02-26',
      '2026-02-27',
    ])
    // Days that ended before yesterday (2026-02-19) get their status indexes; later ones stay HOT-friendly.
    expect(await sealed('2026-02-01', '2026-03-31')).toEqual([
      'deliveries_p20260217_status_idx',
      'deliveries_p20260217_target_status_idx',
      'deliveries_p20260218_status_idx',
      'deliveries_p20260218_target_status_idx',
    ])
  })

  it('retention drops a day whole once it ended past the retention age, keeps a day with work still due', async () => {
    h.clock.set('2026-02-20T10:00:00.000Z')
    await jobs.runDue()
    const org = (await h.json('POST', '/api/v1/orgs', { body: { name: 'partitions' } })).body
    rx.respond('/ok', { status: 200 })
    rx.respond('/down', { status: 503 })
    await h.json('POST', '/api/v1/webhooks', {
      body: { orgId: org.id, name: 'ok', url: rx.url('/ok'), events: ['user.login'] },
    })
    await h.json('POST', '/api/v1/webhooks', {
      body: {
        orgId: org.id,
        name: 'down',
        url: rx.url('/down'),
        events: ['user.logout'],
        retryPolicy: {
          maxRetries: 50,
          initialDelayMs: 86_400_000,
          backoffMultiplier: 1,
          maxDelayMs: 86_400_000,
        },
      },
    })
    const send = async (id: string, type = 'user.login') => {
      const r = await h.json('POST', '/api/v1/events', { body: { orgId: org.id, type, id } })
      expect(r.status).toBeLessThan(300)
      await h.worker.drain()
    }
    await send('feb20-a')
    await send('feb20-b')
    h.clock.set('2026-02-21T09:00:00.000Z')
    await send('feb21-ok')
    await send('feb21-retrying', 'user.logout')
    h.clock.set('2026-02-22T09:00:00.000Z')
    await send('feb22')
    // A delivery whose day has no partition (made long ago) waits in the default partition.
    await h.ctx.db.query(
      `INSERT INTO deliveries (id, org_id, target_type, target_id, event_id, event_type, status, attempts,
                               created_at, updated_at)
       SELECT patchbay_uuid_v7('2025-06-01T00:00:00Z'), $1, 'webhook', id, 'old', 'user.login', 'delivered', 1,
              '2025-06-01T00:00:00Z', '2025-06-01T00:00:00Z'
       FROM webhooks WHERE org_id = $1 AND name = 'ok'`,
      [org.id],
    )
    expect(await placement(org.id)).toEqual({
      'feb20-a': 'deliveries_p20260220',
      'feb20-b': 'deliveries_p20260220',
      'feb21-ok': 'deliveries_p20260221',
      'feb21-retrying': 'deliveries_p20260221',
      feb22: 'deliveries_p20260222',
      old: 'deliveries_default',
    })
    await expectStatsMatchHistory(org.id)

    // 30 days after the end of 2026-02-20, less a millisecond: that day has not ended past the age yet.
    h.clock.set('2026-03-22T23:59:59.999Z')
    await jobs.runDue()
    expect(await exists('deliveries_p20260220')).toBe(true)
    expect(Object.keys(await placement(org.id))).toEqual([
      'feb20-a',
      'feb20-b',
      'feb21-ok',
      'feb21-retrying',
      'feb22',
    ])

    // A millisecond on: the day is dropped whole.
    h.clock.advance(1)
    await jobs.runDue()
    expect(await exists('deliveries_p20260220')).toBe(false)
    expect(Object.keys(await placement(org.id))).toEqual(['feb21-ok', 'feb21-retrying', 'feb22'])
    await expectStatsMatchHistory(org.id)

    // 2026-02-21 ended past the age but holds a delivery still retrying: the partition stays, its finished
    // delivery is deleted row by row, and the retrying one is still listed.
    h.clock.set('2026-03-24T00:00:00.000Z')
    await jobs.runDue()
    expect(await exists('deliveries_p20260221')).toBe(true)
    expect(await placement(org.id)).toEqual({
      'feb21-retrying': 'deliveries_p20260221',
      feb22: 'deliveries_p20260222',
    })
    await expectStatsMatchHistory(org.id)
    const listed = await h.json('GET', `/api/v1/deliveries?orgId=${org.id}`)
    expect(
      listed.body.data.map((d: { eventId: string; status: string }) => `${d.eventId}:${d.status}`),
    ).toEqual(['feb22:delivered', 'feb21-retrying:retrying'])
    // The total comes from the counted days' counts and the history after them (drizzle/0021).
    expect(listed.body.pagination.total).toBe(2)
    const delivered = await h.json('GET', `/api/v1/deliveries?orgId=${org.id}&status=delivered`)
    expect(delivered.body.pagination.total).toBe(1)
    // Events no delivery refers to any more are gone with their deliveries.
    const [ev] = await h.ctx.db.query<{ ids: string[] }>(
      'SELECT array_agg(id ORDER BY id) AS ids FROM events WHERE org_id = $1',
      [org.id],
    )
    expect(ev?.ids).toEqual(['feb21-retrying', 'feb22'])
  })

  it('retention waits for partition upkeep running at the same moment instead of deadlocking with it', async () => {
    // The partitions job holds the partition lock (as patchbay_ensure/seal_delivery_partitions do) while the
    // retention job starts: retention must queue behind it, then drop the expired days.
    h.clock.set('2026-06-01T00:00:00.000Z')
    let release!: () => void
    const released = new Promise<void>((r) => {
      release = r
    })
    let locked!: () => void
    const holding = new Promise<void>((r) => {
      locked = r
    })
    const upkeep = h.ctx.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK_KEY])
      locked()
      await released
    })
    await holding
    let pruned = false
    const prune = pruneDeliveries(h.ctx.db, new Date('2026-05-01T00:00:00.000Z')).then((r) => {
      pruned = true
      return r
    })
    // Retention is queued on the lock: nothing dropped yet.
    const waiting = await h.ctx.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`,
    )
    for (let i = 0; i < 200 && (waiting[0]?.n ?? 0) === 0; i++) {
      const [w] = await h.ctx.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`,
      )
      if (w) waiting[0] = w
    }
    expect(waiting[0]?.n).toBe(1)
    expect(pruned).toBe(false)
    expect(await exists('deliveries_p20260222')).toBe(true)
    release()
    await upkeep
    const result = await prune
    expect(result.partitions).toBeGreaterThan(0)
    expect(await exists('deliveries_p20260222')).toBe(false)
  })

  it("a counted day's counts keep the target type and the latest delivery time of what is left", async () => {
    h.clock.set('2026-07-01T09:00:00.000Z')
    await jobs.runDue()
    const org = (await h.json('POST', '/api/v1/orgs', { body: { name: 'day counts' } })).body
    rx.respond('/counted', { status: 200 })
    const hook = (
      await h.json('POST', '/api/v1/webhooks', {
        body: { orgId: org.id, name: 'counted', url: rx.url('/counted'), events: ['user.login'] },
      })
    ).body
    const send = async (id: string) => {
      const r = await h.json('POST', '/api/v1/events', { body: { orgId: org.id, type: 'user.login', id } })
      expect(r.status).toBeLessThan(300)
      await h.worker.drain()
    }
    await send('early')
    h.clock.set('2026-07-01T10:00:00.000Z')
    await send('late')
    // 2026-07-01 ended before yesterday: its partition is counted (delivery_day_counts) and sealed (in this
    // database, migrated at the real date, it was counted from the start, so the counts followed each attempt).
    h.clock.set('2026-07-03T10:00:00.000Z')
    await jobs.runDue()
    const counts = await h.ctx.db.query<{ target_type: string; n: number; last: Date }>(
      `SELECT target_type, n::int AS n, last_delivered_at AS last FROM delivery_day_counts
       WHERE org_id = $1 AND day = '2026-07-01' AND n > 0`,
      [org.id],
    )
    expect(counts).toEqual([{ target_type: 'webhook', n: 2, last: new Date('2026-07-01T10:00:00.000Z') }])
    await expectStatsMatchHistory(org.id)

    // The total of a list by target comes from the counts: a type the target's deliveries do not have lists
    // nothing and counts nothing (the counts once ignored the type and said 2 over an empty list).
    const list = async (query: string) => {
      const r = await h.json('GET', `/api/v1/deliveries?orgId=${org.id}&${query}`)
      expect(r.status).toBe(200)
      return { n: r.body.data.length, total: r.body.pagination.total }
    }
    expect(await list(`targetType=psa&targetId=${hook.id}`)).toEqual({ n: 0, total: 0 })
    expect(await list(`targetType=psa&targetId=${hook.id}&status=delivered`)).toEqual({ n: 0, total: 0 })
    expect(await list('targetType=psa')).toEqual({ n: 0, total: 0 })
    expect(await list(`targetType=webhook&targetId=${hook.id}`)).toEqual({ n: 2, total: 2 })
    expect(await list(`webhookId=${hook.id}&status=delivered`)).toEqual({ n: 2, total: 2 })
    expect(await list('targetType=webhook')).toEqual({ n: 2, total: 2 })
    const byHook = await h.json('GET', `/api/v1/webhooks/${hook.id}/deliveries`)
    expect(byHook.body.pagination.total).toBe(2)

    // Retention deletes a counted day's finished rows in batches (row triggers keep the counts): with the latest
    // delivery gone and another left, the stats name the one left, not the deleted one.
    await h.ctx.db.query(`DELETE FROM deliveries WHERE org_id = $1 AND event_id = 'late'`, [org.id])
    const stats = await deliveryStats(h.ctx.db.orm, org.id, hook.id)
    expect(stats.delivered).toBe(1)
    expect(stats.lastDeliveredAt).toEqual(new Date('2026-07-01T09:00:00.000Z'))
    await expectStatsMatchHistory(org.id)
    expect(await list(`targetType=webhook&targetId=${hook.id}`)).toEqual({ n: 1, total: 1 })
    // The last one gone: nothing delivered, no latest time.
    await h.ctx.db.query(`DELETE FROM deliveries WHERE org_id = $1 AND event_id = 'early'`, [org.id])
    expect((await deliveryStats(h.ctx.db.orm, org.id, hook.id)).lastDeliveredAt).toBeNull()
    await expectStatsMatchHistory(org.id)
  })

  it('counts the day that ended yesterday without giving it status indexes, and follows its late outcomes', async () => {
    // Later than the real date the template database was migrated at: these days are made uncounted, as they are
    // in production, and counted as they end.
    h.clock.set('2027-03-10T23:00:00.000Z')
    await jobs.runDue()
    const org = (await h.json('POST', '/api/v1/orgs', { body: { name: 'yesterday counted' } })).body
    rx.respond('/late', { status: 503 })
    await h.json('POST', '/api/v1/webhooks', {
      body: {
        orgId: org.id,
        name: 'late',
        url: rx.url('/late'),
        events: ['user.login'],
        retryPolicy: {
          maxRetries: 5,
          initialDelayMs: 3_600_000,
          backoffMultiplier: 1,
          maxDelayMs: 3_600_000,
        },
      },
    })
    const r = await h.json('POST', '/api/v1/events', {
      body: { orgId: org.id, type: 'user.login', id: 'mar10' },
    })
    expect(r.status).toBeLessThan(300)
    await h.worker.drain()
    const list = async (query: string) => {
      const l = await h.json('GET', `/api/v1/deliveries?orgId=${org.id}&${query}`)
      expect(l.status).toBe(200)
      return { n: l.body.data.length, total: l.body.pagination.total }
    }
    expect(await list('status=retrying')).toEqual({ n: 1, total: 1 })

    // Half an hour into the next day the hourly job counts 2027-03-10 (drizzle/0026); its status indexes wait a
    // day more, so the retries still due on it stay HOT updates.
    h.clock.set('2027-03-11T00:30:00.000Z')
    await jobs.runDue()
    const [through] = await h.ctx.db.query<{ day: string }>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day FROM delivery_counted_through`,
    )
    expect(through?.day).toBe('2027-03-11')
    expect(await sealed('2027-03-10', '2027-03-10')).toEqual([])
    // Each day's partition has the statistics that tell the planner a target implies its organization.
    const [stx] = await h.ctx.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_statistic_ext WHERE stxname = 'deliveries_p20270310_org_target_stx'`,
    )
    expect(stx?.n).toBe(1)
    const counted = async () =>
      h.ctx.db.query<{ status: string; n: number }>(
        `SELECT status, n::int AS n FROM delivery_day_counts WHERE org_id = $1 AND day = '2027-03-10' AND n > 0`,
        [org.id],
      )
    expect(await counted()).toEqual([{ status: 'retrying', n: 1 }])
    await expectStatsMatchHistory(org.id)

    // Its retry succeeds after midnight: the counts follow, and so do the stats and the list's totals.
    rx.respond('/late', { status: 200 })
    await h.worker.drain()
    expect(await counted()).toEqual([{ status: 'delivered', n: 1 }])
    await expectStatsMatchHistory(org.id)
    expect(await list('status=delivered')).toEqual({ n: 1, total: 1 })
    expect(await list('status=retrying')).toEqual({ n: 0, total: 0 })
    expect(await list('')).toEqual({ n: 1, total: 1 })
  })
})
