import { afterAll, describe, expect, it } from 'vitest'
import { connectorTestEnv } from '../../../test/standins/env.ts'
import { ItGlueStandIn } from '../../../test/standins/itglue.ts'
import { ManualClock } from '../../lib/clock.ts'
import type { ResourceKind } from '../../resources/kinds.ts'
import { connector } from '../registry.ts'
import type { ResourceOperations } from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { createItGlue, itGlue } from './index.ts'

const clock = new ManualClock('2026-02-18T12:00:00.000Z')
const env = connectorTestEnv(clock)
const standins: ItGlueStandIn[] = []

async function account(region: string) {
  const itg = await new ItGlueStandIn({ clock, region }).start()
  standins.push(itg)
  const c = createItGlue({ regions: itg.regions() })
  return { itg, c, ops: c.resources as ResourceOperations }
}

afterAll(async () => {
  for (const s of standins) await s.close()
  await env.close()
})

const q = (filter: Record<string, string> = {}, limit = 50, cursor?: string) => ({ filter, limit, cursor })

describe('descriptor', () => {
  it('is registered as documentation, with the API Base URL as its destination', () => {
    expect(connector('itglue')).toBe(itGlue)
    expect(itGlue.descriptor.category).toBe('documentation')
    expect(itGlue.descriptor.credentialSchema.apiKey).toMatchObject({ sensitive: true, required: true })
    expect(itGlue.descriptor.credentialSchema.baseUrl).toMatchObject({ destination: true, required: false })
  })
})

describe('regions', () => {
  it('finds an EU account of a blank URL and advises the EU URL, changing nothing', async () => {
    const { itg, c } = await account('eu')
    const creds = { apiKey: itg.apiKey }
    expect(await c.verify(creds, env)).toEqual({
      ok: true,
      advice: `The account is on IT Glue's EU server: set the API Base URL to ${itg.regionUrl('eu')}.`,
      suggestedCredentials: { baseUrl: itg.regionUrl('eu') },
    })
    expect(creds).toEqual({ apiKey: itg.apiKey })
    expect(itg.requests.map((r) => r.headers.host?.split(':')[0])).toEqual([
      'us.itglue.test',
      'eu.itglue.test',
    ])
    expect(itg.requests.every((r) => r.headers['x-api-key'] === itg.apiKey)).toBe(true)
  })

  it('needs no advice for a US account, and finds AU ones', async () => {
    const us = await account('us')
    expect(await us.c.verify({ apiKey: us.itg.apiKey }, env)).toEqual({ ok: true })
    const au = await account('au')
    expect(await au.c.verify({ apiKey: au.itg.apiKey }, env)).toMatchObject({
      ok: true,
      suggestedCredentials: { baseUrl: au.itg.regionUrl('au') },
    })
    expect(au.itg.requests).toHaveLength(3)
  })

  it('calls only the URL given, and reports a key no server knows in IT Glue’s words', async () => {
    const { itg, c } = await account('eu')
    expect(await c.verify(itg.credentials, env)).toEqual({ ok: true })
    expect(itg.requests).toHaveLength(1)
    expect(await c.verify({ apiKey: 'ITG.unknown-key-000', baseUrl: itg.regionUrl('eu') }, env)).toEqual({
      ok: false,
      status: 401,
      error: 'IT Glue answered 401: Unauthorized: Invalid API key',
    })
    expect(await c.verify({ apiKey: 'ITG.unknown-key-000' }, env)).toEqual({
      ok: false,
      status: 401,
      error:
        'IT Glue: no server (US, EU, AU) accepted the API key; the last said: IT Glue answered 401: Unauthorized: Invalid API key',
    })
  })

  it('reads from the server it found when the URL is blank', async () => {
    const { itg, ops } = await account('au')
    const page = await ops.list({ apiKey: itg.apiKey }, 'organizations', q(), env)
    expect(page.items).toHaveLength(5)
    await ops.list({ apiKey: itg.apiKey }, 'contacts', q(), env)
    // Found once (us, eu, au), then remembered.
    expect(itg.requests.map((r) => `${r.headers.host?.split('.')[0]} ${r.path}`)).toEqual([
      'us /organizations',
      'eu /organizations',
      'au /organizations',
      'au /organizations',
      'au /contacts',
    ])
  })
})

describe('resources', () => {
  it('pages with page[number] and page[size] behind an opaque cursor', async () => {
    const { itg, ops } = await account('eu')
    const names: string[] = []
    let cursor: string | undefined
    do {
      const page = await ops.list(itg.credentials, 'organizations', q({}, 2, cursor), env)
      names.push(...page.items.map((o) => o.name))
      cursor = page.next
    } while (cursor)
    expect(names).toEqual(['Contoso', 'Fabrikam', 'Initech', 'Globex', 'Umbrella'])
    expect(itg.requests.map((r) => [r.query.get('page[number]'), r.query.get('page[size]')])).toEqual([
      ['1', '2'],
      ['2', '2'],
      ['3', '2'],
    ])
  })

  it('normalizes configurations and contacts, filtered by organization', async () => {
    const { itg, ops } = await account('eu')
    const configs = await ops.list(itg.credentials, 'configurations', q({ organizationId: '100' }), env)
    expect(configs.items).toEqual([
      {
        id: '9001',
        name: 'CONTOSO-DC01',
        organizationId: '100',
        hostname: 'contoso-dc01.contoso.local',
        ip: '10.1.0.10',
        serialNumber: 'VMW-1234',
        raw: expect.objectContaining({ type: 'configurations' }),
      },
    ])
    expect(itg.requests[0]?.query.get('filter[organization_id]')).toBe('100')
    const contacts = await ops.list(itg.credentials, 'contacts', q(), env)
    expect(contacts.items).toMatchObject([
      { id: '5001', name: 'Dana Admin', email: 'dana@contoso.example', organizationId: '100' },
    ])
  })

  it('reads password metadata and never a value, even from a server that sends one', async () => {
    const { itg, ops } = await account('eu')
    itg.leakPasswordsInLists = true
    const page = await ops.list(itg.credentials, 'passwords', q(), env)
    expect(page.items.map((p) => [p.id, p.name, p.username, p.url, p.organizationId, p.updatedAt])).toEqual([
      [
        '7001',
        'Domain admin',
        'CONTOSO\\administrator',
        'https://contoso-dc01',
        '100',
        '2026-02-01T08:00:00.000Z',
      ],
      ['7002', 'Firewall', 'admin', null, '101', '2026-02-02T08:00:00.000Z'],
    ])
    expect(JSON.stringify(page)).not.toContain('NeverLeaves')
    expect(itg.requests.map((r) => r.path)).toEqual(['/passwords'])
    expect(itg.requests.every((r) => !r.query.has('show_password'))).toBe(true)
  })

  it('passes on a 429 with its Retry-After, and refuses unknown filters before calling', async () => {
    const { itg, ops } = await account('eu')
    itg.failNext(429, { retryAfter: 20 })
    const err = await ops.list(itg.credentials, 'contacts', q(), env).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(VendorError)
    expect(err).toMatchObject({
      status: 429,
      retryAfterMs: 20_000,
      message: 'IT Glue answered 429: Too Many Requests: Rate limit exceeded: 3000 requests per 5 minutes',
    })
    for (const [filter, message] of [
      [{ serialNumber: 'x' }, 'IT Glue: unknown filter serialNumber for contacts'],
      [{ organizationId: '1 OR 1' }, 'IT Glue: the organizationId filter is a number'],
    ] as const) {
      await expect(ops.list(itg.credentials, 'contacts', q(filter), env)).rejects.toMatchObject({
        status: 400,
        message,
      })
    }
    expect(itg.requests).toHaveLength(1)
  })
})

describe('read-only', () => {
  it('sends nothing but GET to IT Glue across verify, probe and every read', async () => {
    const { itg, c, ops } = await account('eu')
    await c.verify({ apiKey: itg.apiKey }, env)
    await c.verify(itg.credentials, env)
    await c.probe?.({ apiKey: itg.apiKey }, env)
    await c.probe?.(itg.credentials, env)
    for (const k of ops.kinds) {
      let cursor: string | undefined
      do {
        const page = await ops.list(itg.credentials, k.kind as ResourceKind, q({}, 1, cursor), env)
        cursor = page.next
      } while (cursor)
    }
    expect(itg.requests.length).toBeGreaterThan(10)
    expect(new Set(itg.requests.map((r) => r.method))).toEqual(new Set(['GET']))
    expect(itg.requests.every((r) => r.raw === '')).toBe(true)
  })
})
