import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bootstrapSystemKey } from '../src/bootstrap.ts'
import { apiKeys } from '../src/store/schema/tenancy.ts'
import { hashToken } from '../src/store/tenancy.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
beforeAll(async () => {
  h = await createHarness()
  t = await seedTenants(h)
})
afterAll(() => h.close())

describe('authentication', () => {
  it('rejects a missing, malformed or unknown token with 401', async () => {
    expect((await h.json('GET', '/api/v1/orgs', { token: null })).status).toBe(401)
    expect(
      (await h.json('GET', '/api/v1/orgs', { token: null, headers: { authorization: 'Basic abc' } })).status,
    ).toBe(401)
    const r = await h.json('GET', '/api/v1/orgs', { token: 'pbk_unknown' })
    expect(r).toMatchObject({ status: 401, body: { code: 'unauthorized' } })
  })
})

describe('organizations across tenants', () => {
  it('a system key sees every organization', async () => {
    const r = await h.json('GET', '/api/v1/orgs')
    expect(r.body.pagination.total).toBe(3)
  })

  it('a partner key sees only its own organizations, and others are 404', async () => {
    const r = await h.json('GET', '/api/v1/orgs', { token: t.partnerToken })
    expect(r.body.data.map((o: { id: string }) => o.id).sort()).toEqual([t.orgA.id, t.orgB.id].sort())
    expect((await h.json('GET', `/api/v1/orgs/${t.orgA.id}`, { token: t.partnerToken })).status).toBe(200)
    const other = await h.json('GET', `/api/v1/orgs/${t.orgC.id}`, { token: t.partnerToken })
    expect(other.status).toBe(404)
    expect(JSON.stringify(other.body)).not.toContain('Initech')
  })

  it('an organization key sees only itself', async () => {
    const r = await h.json('GET', '/api/v1/orgs', { token: t.orgAToken })
    expect(r.body.data.map((o: { id: string }) => o.id)).toEqual([t.orgA.id])
    expect((await h.json('GET', `/api/v1/orgs/${t.orgB.id}`, { token: t.orgAToken })).status).toBe(404)
    expect((await h.json('GET', `/api/v1/orgs/${t.orgC.id}`, { token: t.orgAToken })).status).toBe(404)
  })

  it('a partner creates organizations only under itself', async () => {
    const created = await h.json('POST', '/api/v1/orgs', {
      token: t.partnerToken,
      body: { name: 'Umbrella' },
    })
    expect(created).toMatchObject({ status: 201, body: { partnerId: t.partner.id, name: 'Umbrella' } })
    const foreign = await h.json('POST', '/api/v1/orgs', {
      token: t.partnerToken,
      body: { name: 'Sneaky', partnerId: t.otherPartner.id },
    })
    expect(foreign.status).toBe(404)
    const byOrg = await h.json('POST', '/api/v1/orgs', { token: t.orgAToken, body: { name: 'Nope' } })
    expect(byOrg.status).toBe(403)
  })

  it('only a system key creates partners; a partner sees only itself', async () => {
    expect(
      (await h.json('POST', '/api/v1/partners', { token: t.partnerToken, body: { name: 'x' } })).status,
    ).toBe(403)
    const list = await h.json('GET', '/api/v1/partners', { token: t.partnerToken })
    expect(list.body.data.map((p: { id: string }) => p.id)).toEqual([t.partner.id])
    expect(
      (await h.json('GET', `/api/v1/partners/${t.otherPartner.id}`, { token: t.partnerToken })).status,
    ).toBe(404)
  })
})

describe('API keys', () => {
  it('stores only a hash and prefix, shows the token once', async () => {
    const created = await h.json('POST', '/api/v1/api-keys', {
      token: t.partnerToken,
      body: { name: 'ci', scope: 'organization', orgId: t.orgB.id },
    })
    expect(created.status).toBe(201)
    const token = created.body.token as string
    expect(token).toMatch(/^pbk_/)
    const stored = await h.ctx.db.orm.select().from(apiKeys)
    expect(JSON.stringify(stored)).not.toContain(token)
    expect(stored.find((k) => k.id === created.body.id)?.tokenHash).toBe(hashToken(token))

    const listed = await h.json('GET', '/api/v1/api-keys', { token: t.partnerToken })
    expect(JSON.stringify(listed.body)).not.toContain(token)
    const mine = listed.body.data.find((k: { id: string }) => k.id === created.body.id)
    expect(mine).toMatchObject({ scope: 'organization', orgId: t.orgB.id, tokenPrefix: token.slice(0, 8) })
    expect(mine.token).toBeUndefined()
  })

  it('a revoked key stops working at once and its revocation is audited', async () => {
    const created = await h.json('POST', '/api/v1/api-keys', {
      body: { name: 'temp', scope: 'organization', orgId: t.orgA.id },
    })
    const token = created.body.token as string
    expect((await h.json('GET', '/api/v1/orgs', { token })).status).toBe(200)
    const revoked = await h.json('DELETE', `/api/v1/api-keys/${created.body.id}`, { token: t.orgAToken })
    expect(revoked).toMatchObject({ status: 200, body: { id: created.body.id } })
    expect(revoked.body.revokedAt).not.toBeNull()
    expect((await h.json('GET', '/api/v1/orgs', { token })).status).toBe(401)
    expect(
      (await h.json('DELETE', `/api/v1/api-keys/${created.body.id}`, { token: t.orgAToken })).status,
    ).toBe(409)
    const audit = await h.json('GET', `/api/v1/audit-logs?action=api_key.revoke&targetId=${created.body.id}`)
    expect(audit.body.data).toHaveLength(1)
    expect(audit.body.data[0]).toMatchObject({ orgId: t.orgA.id, actorType: 'api_key' })
  })

  it('keys cannot widen their reach or touch another tenant', async () => {
    const cases: [string, Record<string, unknown>, number][] = [
      [t.orgAToken, { name: 'x', scope: 'system' }, 403],
      [t.orgAToken, { name: 'x', scope: 'partner', partnerId: t.partner.id }, 403],
      [t.orgAToken, { name: 'x', scope: 'organization', orgId: t.orgB.id }, 404],
      [t.partnerToken, { name: 'x', scope: 'system' }, 403],
      [t.partnerToken, { name: 'x', scope: 'partner', partnerId: t.otherPartner.id }, 404],
      [t.partnerToken, { name: 'x', scope: 'organization', orgId: t.orgC.id }, 404],
      [t.partnerToken, { name: 'x', scope: 'organization' }, 400],
    ]
    for (const [token, body, status] of cases) {
      const r = await h.json('POST', '/api/v1/api-keys', { token, body })
      expect({ body, status: r.status }).toEqual({ body, status })
    }
    // Another tenant's key is invisible and cannot be revoked.
    const foreign = await h.json('GET', '/api/v1/api-keys', { token: t.otherPartnerToken })
    const foreignKeyId = foreign.body.data[0].id as string
    expect(
      (await h.json('DELETE', `/api/v1/api-keys/${foreignKeyId}`, { token: t.partnerToken })).status,
    ).toBe(404)
    expect((await h.json('GET', '/api/v1/orgs', { token: t.otherPartnerToken })).status).toBe(200)
  })

  it("an org key lists only its own organization's keys", async () => {
    const r = await h.json('GET', '/api/v1/api-keys', { token: t.orgCToken })
    expect(r.body.data.every((k: { orgId: string }) => k.orgId === t.orgC.id)).toBe(true)
  })
})

describe('audit log', () => {
  it("records configuration changes and filters by org, action, target and time, within the caller's reach", async () => {
    const all = await h.json('GET', '/api/v1/audit-logs?limit=100')
    const actions = new Set(all.body.data.map((a: { action: string }) => a.action))
    expect(actions).toEqual(new Set(['partner.create', 'org.create', 'api_key.create', 'api_key.revoke']))

    const orgCreates = await h.json('GET', `/api/v1/audit-logs?action=org.create&orgId=${t.orgA.id}`)
    expect(orgCreates.body.data).toHaveLength(1)
    expect(orgCreates.body.data[0]).toMatchObject({
      targetType: 'org',
      targetId: t.orgA.id,
      summary: { name: 'Contoso' },
    })

    const prefix = await h.json('GET', '/api/v1/audit-logs?action=api_key.*&limit=1&page=2')
    expect(prefix.body.pagination).toMatchObject({ page: 2, limit: 1 })
    expect(prefix.body.pagination.total).toBeGreaterThan(2)

    const future = await h.json('GET', '/api/v1/audit-logs?from=2030-01-01T00:00:00Z')
    expect(future.body.data).toHaveLength(0)
    const window = await h.json(
      'GET',
      '/api/v1/audit-logs?from=2026-02-18T12:00:00Z&to=2026-02-18T12:00:00.001Z',
    )
    expect(window.body.pagination.total).toBe(all.body.pagination.total)

    const asOtherPartner = await h.json('GET', '/api/v1/audit-logs?limit=100', { token: t.otherPartnerToken })
    for (const entry of asOtherPartner.body.data) {
      expect([t.orgC.id, null]).toContain(entry.orgId)
      if (entry.orgId === null) expect(entry.partnerId).toBe(t.otherPartner.id)
    }
    expect(
      (await h.json('GET', `/api/v1/audit-logs?orgId=${t.orgA.id}`, { token: t.otherPartnerToken })).status,
    ).toBe(404)
    expect((await h.json('GET', '/api/v1/audit-logs?from=yesterday')).status).toBe(422)
  })

  it('never stores a token in an audit summary', async () => {
    const created = await h.json('POST', '/api/v1/api-keys', { body: { name: 'audited', scope: 'system' } })
    const all = await h.json('GET', '/api/v1/audit-logs?limit=100')
    expect(JSON.stringify(all.body)).not.toContain(created.body.token)
  })
})

describe('partner-wide changes in the audit log', () => {
  it('a partner-wide delivery retry is filed under the partner that made it', async () => {
    const res = await h.json('POST', '/api/v1/deliveries/retry', { token: t.partnerToken, body: {} })
    expect(res.status).toBe(202)
    const mine = await h.json('GET', '/api/v1/audit-logs?action=delivery.recover', { token: t.partnerToken })
    expect(mine.body.data).toHaveLength(1)
    expect(mine.body.data[0]).toMatchObject({
      orgId: null,
      partnerId: t.partner.id,
      targetType: 'deliveries',
    })
    for (const token of [t.otherPartnerToken, t.orgAToken, t.orgCToken]) {
      const other = await h.json('GET', '/api/v1/audit-logs?action=delivery.recover', { token })
      expect(other.body.data).toHaveLength(0)
    }
    // An org key's retry is its organization's (and so its partner's).
    expect((await h.json('POST', '/api/v1/deliveries/retry', { token: t.orgAToken, body: {} })).status).toBe(
      202,
    )
    const asOrg = await h.json('GET', '/api/v1/audit-logs?action=delivery.recover', { token: t.orgAToken })
    expect(asOrg.body.data).toHaveLength(1)
    expect(asOrg.body.data[0]).toMatchObject({ orgId: t.orgA.id })
    const asPartner = await h.json('GET', '/api/v1/audit-logs?action=delivery.recover', {
      token: t.partnerToken,
    })
    expect(asPartner.body.data).toHaveLength(2)
  })
})

describe('token prefixes', () => {
  it('show at most four characters after pbk_, and four of an operator-chosen bootstrap token', async () => {
    const created = await h.json('POST', '/api/v1/api-keys', {
      body: { name: 'short prefix', scope: 'organization', orgId: t.orgA.id },
    })
    expect(created.body.tokenPrefix).toBe(created.body.token.slice(0, 8))
    expect(created.body.tokenPrefix).toMatch(/^pbk_.{4}$/)

    // Bootstrap runs only when no system key is live: take the harness's out of service meanwhile.
    const live = await h.ctx.db.query<{ id: string }>(
      'UPDATE api_keys SET revoked_at = now() WHERE scope = $1 AND revoked_at IS NULL RETURNING id',
      ['system'],
    )
    const chosen = 'operator-chosen-bootstrap-token-24'
    try {
      const outcome = await bootstrapSystemKey({
        ...h.ctx,
        config: { ...h.ctx.config, PATCHBAY_BOOTSTRAP_TOKEN: chosen },
      })
      expect(outcome).toEqual({ kind: 'from-env' })
    } finally {
      await h.ctx.db.query('UPDATE api_keys SET revoked_at = NULL WHERE id = ANY($1::uuid[])', [
        live.map((k) => k.id),
      ])
    }
    const keys = await h.json('GET', '/api/v1/api-keys?limit=100')
    const boot = keys.body.data.find((k: { name: string }) => k.name.startsWith('bootstrap'))
    expect(boot.tokenPrefix).toBe('oper')
    const audit = await h.json('GET', `/api/v1/audit-logs?action=api_key.create&targetId=${boot.id}`)
    expect(audit.body.data[0].summary.tokenPrefix).toBe('oper')
    expect(JSON.stringify([keys.body, audit.body])).not.toContain('operator-ch')
  })
})
