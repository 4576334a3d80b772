import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EmbeddedMaintenance } from '../src/store/maintenance.ts'
import { createHarness, type Harness } from './harness.ts'

interface QueueStats {
  vacuumed: Date | null
  analyzed: Date | null
}

async function queueStats(h: Harness): Promise<QueueStats> {
  const [row] = await h.ctx.db.query<{ vacuumed: Date | null; analyzed: Date | null }>(
    `SELECT last_vacuum AS vacuumed, last_analyze AS analyzed
     FROM pg_stat_user_tables WHERE relname = 'delivery_queue'`,
  )
  if (!row) throw new Error('no statistics for delivery_queue')
  return { vacuumed: row.vacuumed, analyzed: row.analyzed }
}

describe('embedded database maintenance', () => {
  let h: Harness
  beforeAll(async () => {
    h = await createHarness()
  })
  afterAll(async () => {
    await h.close()
  })

  it('vacuums and analyzes the delivery queue, whose rows all die within seconds', async () => {
    const maintenance = new EmbeddedMaintenance(h.ctx)
    // Deliveries to an unreachable webhook: each is queued, leased and dead-lettered, leaving dead queue rows
    // (fewer than the failures that would open the target's circuit).
    const hook = await h.json('POST', '/api/v1/webhooks', {
      body: {
        orgId: (await h.json('POST', '/api/v1/orgs', { body: { name: 'Contoso' } })).body.id,
        name: 'gone',
        url: 'http://gone.test:9/hook',
        events: ['alert.*'],
        retryPolicy: { maxRetries: 0, initialDelayMs: 1000, backoffMultiplier: 2, maxDelayMs: 60000 },
      },
    })
    expect(hook.status, JSON.stringify(hook.body)).toBe(201)
    const orgId = hook.body.orgId as string
    const events = Array.from({ length: 4 }, (_, i) => ({
      id: `evt-${i}`,
      type: 'alert.triggered',
      orgId,
      data: { alertId: `a${i}` },
    }))
    expect((await h.json('POST', '/api/v1/events/batch', { body: { events } })).status).toBe(202)
    expect(await h.worker.drain()).toBe(4)
    const [left] = await h.ctx.db.query<{ n: string }>('SELECT count(*) AS n FROM delivery_queue')
    expect(Number(left?.n)).toBe(0)

    await maintenance.run('VACUUM (ANALYZE) delivery_queue')
    const after = await queueStats(h)
    expect(after.vacuumed).not.toBeNull()
    expect(after.analyzed).not.toBeNull()
    // The physical effect, not n_dead_tup: that figure is a statistic each backend flushes at most once a second, so
    // the writes' own counts can land after the VACUUM has reset it (CI once saw the 4 leases + 4 deletes, 8, there).
    // Every queue row was dead, so the VACUUM leaves no page behind for a claim to walk through.
    const [size] = await h.ctx.db.query<{ bytes: string }>(
      `SELECT pg_relation_size('delivery_queue') AS bytes`,
    )
    expect(Number(size?.bytes)).toBe(0)
  })

  it('schedules itself only for the embedded database, which has no autovacuum', async () => {
    const maintenance = new EmbeddedMaintenance(h.ctx, {
      queueEveryMs: 60_000,
      allEveryMs: 60_000,
      checkpointEveryMs: 60_000,
    })
    await maintenance.start()
    const scheduled = maintenance.scheduled
    await maintenance.stop()
    expect(scheduled).toBe(h.ctx.db.kind === 'embedded' ? 3 : 0)
  })
})
