import { eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { rows } from '../src/store/db.ts'
import { webhooks } from '../src/store/schema/delivery.ts'
import { generateKeyRing } from '../src/vault/keyring.ts'
import { rotateKeys } from '../src/vault/rotate.ts'
import { SEALED_COLUMNS } from '../src/vault/sealed-columns.ts'
import { keyIdOf, Vault } from '../src/vault/vault.ts'
import { openHeaders, sealPlaintextHeaders } from '../src/webhooks/headers.ts'
import { createHarness, type Harness } from './harness.ts'
import { Receiver } from './standins/receiver.ts'

const BEARER = 'Bearer sk_live_9f8e7d6c5b4a3210'
const TENANT = 'tenant-7c1d'

let h: Harness
let rx: Receiver
let orgId: string
beforeAll(async () => {
  h = await createHarness()
  rx = await new Receiver().start()
})
afterAll(async () => {
  await rx.stop()
  await h.close()
})
beforeEach(async () => {
  rx.received.length = 0
  orgId = (await h.json('POST', '/api/v1/orgs', { body: { name: 'Header Co' } })).body.id
})

let n = 0
async function createHook(headers: { key: string; value: string }[]) {
  const path = `/headers-${++n}`
  const res = await h.json('POST', '/api/v1/webhooks', {
    body: { orgId, name: `Hook ${n}`, url: rx.url(path), events: ['device.offline'], headers },
  })
  expect(res.status, JSON.stringify(res.body)).toBe(201)
  return { id: res.body.id as string, path, body: res.body }
}

async function rawRow(id: string) {
  const [row] = await rows<Record<string, unknown>>(
    h.ctx.db.orm,
    sql`SELECT * FROM webhooks WHERE id = ${id}`,
  )
  if (!row) throw new Error(`no webhook ${id}`)
  return row
}

/** Emits an event and delivers it; returns the request the receiver got on `path`. */
async function deliver(path: string) {
  const ev = await h.json('POST', '/api/v1/events', { body: { orgId, type: 'device.offline', data: {} } })
  expect(ev.status).toBe(202)
  await h.worker.drain()
  const got = rx.at(path)
  expect(got).toHaveLength(1)
  rx.received.length = 0
  return got[0] as NonNullable<(typeof got)[0]>
}

describe('webhook custom header values', () => {
  it('are sealed at rest and masked in every response and the audit log', async () => {
    const w = await createHook([
      { key: 'Authorization', value: BEARER },
      { key: 'X-Tenant', value: TENANT },
    ])
    const masked = [
      { key: 'Authorization', value: '****3210' },
      { key: 'X-Tenant', value: '****' },
    ]
    expect(w.body.headers).toEqual(masked)

    const row = await rawRow(w.id)
    const stored = JSON.stringify(row)
    expect(stored).not.toContain('sk_live_9f8e7d6c5b4a3210')
    expect(stored).not.toContain(TENANT)
    expect(row.header_values).toMatch(/^pb1:/)
    expect(row.headers).toEqual([
      { key: 'Authorization', masked: '****3210' },
      { key: 'X-Tenant', masked: '****' },
    ])

    const got = await h.json('GET', `/api/v1/webhooks/${w.id}`)
    expect(got.body.headers).toEqual(masked)
    const list = await h.json('GET', `/api/v1/webhooks?orgId=${orgId}`)
    expect(list.body.data.map((x: { headers: unknown }) => x.headers)).toEqual([masked])
    const patched = await h.json('PATCH', `/api/v1/webhooks/${w.id}`, { body: { name: 'Renamed' } })
    expect(patched.body.headers).toEqual(masked)
    const audit = await h.json('GET', `/api/v1/audit-logs?targetId=${w.id}`)
    expect(audit.body.data.length).toBeGreaterThan(0)
    for (const text of [got, list, patched, audit].map((r) => JSON.stringify(r.body))) {
      expect(text).not.toContain('sk_live_9f8e7d6c5b4a3210')
      expect(text).not.toContain(TENANT)
    }

    // Only the delivery opens them.
    const req = await deliver(w.path)
    expect(req.headers).toMatchObject({ authorization: BEARER, 'x-tenant': TENANT })
  })

  it('keep their value when a PATCH sends the masked form back; a new value replaces it', async () => {
    const w = await createHook([
      { key: 'Authorization', value: BEARER },
      { key: 'X-Tenant', value: TENANT },
    ])
    const before = (await rawRow(w.id)).header_values

    // What a client read, sent back whole with one header added: stored values are kept.
    const echo = await h.json('PATCH', `/api/v1/webhooks/${w.id}`, {
      body: { headers: [...w.body.headers, { key: 'X-Region', value: 'eu-west-1-primary' }] },
    })
    expect(echo.status, JSON.stringify(echo.body)).toBe(200)
    expect(echo.body.headers).toEqual([
      { key: 'Authorization', value: '****3210' },
      { key: 'X-Tenant', value: '****' },
      { key: 'X-Region', value: '****mary' },
    ])
    expect((await rawRow(w.id)).header_values).not.toBe(before)
    expect(await deliver(w.path)).toMatchObject({
      headers: { authorization: BEARER, 'x-tenant': TENANT, 'x-region': 'eu-west-1-primary' },
    })

    // The name matches case-insensitively; a new value for one header replaces only that one.
    const replaced = await h.json('PATCH', `/api/v1/webhooks/${w.id}`, {
      body: {
        headers: [
          { key: 'authorization', value: 'Bearer sk_live_new_value_5678' },
          { key: 'x-tenant', value: '****' },
        ],
      },
    })
    expect(replaced.status, JSON.stringify(replaced.body)).toBe(200)
    expect(replaced.body.headers).toEqual([
      { key: 'authorization', value: '****5678' },
      { key: 'x-tenant', value: '****' },
    ])
    const req = await deliver(w.path)
    expect(req.headers).toMatchObject({ authorization: 'Bearer sk_live_new_value_5678', 'x-tenant': TENANT })
    expect(req.headers['x-region']).toBeUndefined()
    expect(JSON.stringify(await rawRow(w.id))).not.toContain('sk_live_new_value_5678')
  })

  it('refuse a masked value that matches nothing stored, naming the header', async () => {
    const w = await createHook([{ key: 'Authorization', value: BEARER }])
    const before = await rawRow(w.id)
    for (const header of [
      { key: 'Authorization', value: '****9999' },
      { key: 'X-Other', value: '****3210' },
    ]) {
      const res = await h.json('PATCH', `/api/v1/webhooks/${w.id}`, { body: { headers: [header] } })
      expect(res.status).toBe(422)
      expect(res.body.details).toEqual([
        expect.objectContaining({ path: 'headers.0.value', message: expect.stringContaining(header.key) }),
      ])
    }
    expect(await rawRow(w.id)).toEqual(before)
    const created = await h.json('POST', '/api/v1/webhooks', {
      body: {
        orgId,
        name: 'echo',
        url: rx.url('/echo'),
        events: ['device.offline'],
        headers: [{ key: 'Authorization', value: '****3210' }],
      },
    })
    expect(created.status).toBe(422)
    expect(created.body.details[0].path).toBe('headers.0.value')
    expect(await deliver(w.path)).toMatchObject({ headers: { authorization: BEARER } })
  })

  it('stored in plain text before sealing are masked, delivered, and sealed at startup', async () => {
    const w = await createHook([])
    const legacy = [{ key: 'Authorization', value: BEARER }]
    await h.ctx.db.orm.execute(
      sql`UPDATE webhooks SET headers = ${JSON.stringify(legacy)}::jsonb, header_values = NULL WHERE id = ${w.id}`,
    )
    const shown = await h.json('GET', `/api/v1/webhooks/${w.id}`)
    expect(shown.body.headers).toEqual([{ key: 'Authorization', value: '****3210' }])
    expect(await deliver(w.path)).toMatchObject({ headers: { authorization: BEARER } })
    // A masked echo keeps the plain value, which the PATCH seals.
    const echo = await h.json('PATCH', `/api/v1/webhooks/${w.id}`, { body: { headers: shown.body.headers } })
    expect(echo.status, JSON.stringify(echo.body)).toBe(200)
    expect(JSON.stringify(await rawRow(w.id))).not.toContain('sk_live')
    expect(await deliver(w.path)).toMatchObject({ headers: { authorization: BEARER } })

    await h.ctx.db.orm.execute(
      sql`UPDATE webhooks SET headers = ${JSON.stringify(legacy)}::jsonb, header_values = NULL WHERE id = ${w.id}`,
    )
    expect(await sealPlaintextHeaders(h.ctx.db.orm, h.ctx.vault)).toBe(1)
    const row = await rawRow(w.id)
    expect(JSON.stringify(row)).not.toContain('sk_live')
    expect(row.headers).toEqual([{ key: 'Authorization', masked: '****3210' }])
    expect(await deliver(w.path)).toMatchObject({ headers: { authorization: BEARER } })
    expect(await sealPlaintextHeaders(h.ctx.db.orm, h.ctx.vault)).toBe(0)
  })

  it('are re-sealed by key rotation, with the signing secrets, and open under the new key alone', async () => {
    const res = await h.json('POST', '/api/v1/webhooks', {
      body: {
        orgId,
        name: 'rotated',
        url: rx.url('/rotated'),
        events: ['device.offline'],
        secret: 'rotation-secret-123',
        headers: [{ key: 'Authorization', value: BEARER }],
      },
    })
    expect(res.status).toBe(201)
    const id = res.body.id as string
    const next = generateKeyRing('next')
    const both = new Vault({ activeId: 'next', keys: new Map([...next.keys, ...h.ctx.vault.ring.keys]) })
    await rotateKeys(h.ctx.db.orm, both, SEALED_COLUMNS)
    const [row] = await h.ctx.db.orm.select().from(webhooks).where(eq(webhooks.id, id))
    if (!row) throw new Error('webhook gone')
    expect(keyIdOf(row.headerValues ?? '')).toBe('next')
    expect(keyIdOf(row.secret ?? '')).toBe('next')
    const onlyNext = new Vault(next)
    expect(openHeaders(onlyNext, row)).toEqual([{ key: 'Authorization', value: BEARER }])
    expect(onlyNext.open(row.secret ?? '', { table: 'webhooks', field: 'secret', id })).toBe(
      'rotation-secret-123',
    )
    const [stale] = await rows<{ n: number }>(
      h.ctx.db.orm,
      sql`SELECT count(*)::int AS n FROM webhooks
          WHERE split_part(header_values, ':', 2) <> 'next' OR split_part(secret, ':', 2) <> 'next'`,
    )
    expect(stale?.n).toBe(0)
    // Back under the harness's key, so the deliveries of later tests open.
    await rotateKeys(
      h.ctx.db.orm,
      new Vault({ activeId: h.ctx.vault.ring.activeId, keys: both.ring.keys }),
      SEALED_COLUMNS,
    )
  })
})
