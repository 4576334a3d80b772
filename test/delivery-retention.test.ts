import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JobService } from '../src/jobs/service.ts'
import { rows } from '../src/store/db.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { createHarness, type Harness } from './harness.ts'
import { Receiver } from './standins/receiver.ts'

let h: Harness
let rx: Receiver
beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_DELIVERY_RETENTION_DAYS: '30' } })
  rx = await new Receiver().start()
})
afterAll(async () => {
  await rx.stop()
  await h.close()
})

async function count(table: 'deliveries' | 'events', orgId: string) {
  const [r] = await rows<{ n: number }>(
    h.ctx.db.orm,
    sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)} WHERE org_id = ${orgId}`,
  )
  return r?.n ?? 0
}

describe('delivery history retention', () => {
  it('prunes finished deliveries and their events past the retention age, on schedule, keeping work still due', async () => {
    const org = (await h.json('POST', '/api/v1/orgs', { body: { name: 'o' } })).body
    rx.respond('/ok', { status: 200 })
    rx.respond('/down', { status: 503 })
    await h.json('POST', '/api/v1/webhooks', {
      body: { orgId: org.id, name: 'ok', url: rx.url('/ok'), events: ['user.login'] },
    })
    const down = await h.json('POST', '/api/v1/webhooks', {
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
    await h.json('POST', '/api/v1/events/batch', {
      body: {
        events: [
          { orgId: org.id, type: 'user.login' },
          { orgId: org.id, type: 'user.logout' },
        ],
      },
    })
    await h.worker.drain()
    expect(await count('deliveries', org.id)).toBe(2)

    const jobs = new JobService(h.ctx, WIRED_JOBS)
    await jobs.runDue()
    h.clock.advance(29 * 86_400_000)
    await jobs.runDue()
    expect(await count('deliveries', org.id)).toBe(2)

    // A recent event stays whatever happens to the old ones.
    await h.json('POST', '/api/v1/events', { body: { orgId: org.id, type: 'user.login', id: 'recent' } })
    await h.worker.drain()
    h.clock.advance(2 * 86_400_000)
    await jobs.runDue()
    // The delivered one and its event are gone; the one still retrying daily, and the recent event, remain.
    expect(await count('deliveries', org.id)).toBe(2)
    const left = await h.json('GET', `/api/v1/deliveries?orgId=${org.id}`)
    expect(
      left.body.data.map((d: { event: string; status: string }) => `${d.event}:${d.status}`).sort(),
    ).toEqual(['user.login:delivered', 'user.logout:retrying'])
    expect(left.body.data.find((d: { event: string }) => d.event === 'user.login').eventId).toBe('recent')
    expect(await count('events', org.id)).toBe(2)
    expect(down.status).toBe(201)
  })
})
