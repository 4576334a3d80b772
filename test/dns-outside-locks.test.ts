import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadCredentials } from '../src/integrations/service.ts'
import { createHarness, type Harness } from './harness.ts'

/**
 * Saving an integration's URL checks it, and checking resolves its host, which can take seconds. That must not
 * happen while the integration's row is locked: every other change to it (a verification result, a probe, a
 * test) would wait behind a DNS server. The resolver here looks at the row while it resolves: on served
 * PostgreSQL it tries to lock it with NOWAIT from another connection, which fails at once if the update holds it;
 * on the embedded database (one connection) the same query would wait for a transaction that waits for it, so
 * the test would not finish.
 */

let h: Harness
let integrationId: string | undefined
let orgId: string
/** What the row looked like at each resolution of a watched host. */
const seen: { host: string; row: 'free' | 'locked' }[] = []
/** Runs once, inside the next resolution of a watched host. */
let duringResolve: (() => Promise<void>) | undefined

async function rowState(id: string): Promise<'free' | 'locked'> {
  try {
    await h.ctx.db.query('SELECT id FROM integrations WHERE id = $1 FOR UPDATE NOWAIT', [id])
    return 'free'
  } catch (err) {
    if ((err as { code?: string }).code === '55P03') return 'locked'
    throw err
  }
}

beforeAll(async () => {
  h = await createHarness({
    env: { PATCHBAY_PROBE_INTERVAL_MS: '0' },
    resolver: async (host) => {
      if (integrationId && host.startsWith('watched-')) {
        seen.push({ host, row: await rowState(integrationId) })
        const run = duringResolve
        duringResolve = undefined
        await run?.()
      }
      return host.endsWith('.test') ? ['127.0.0.1'] : []
    },
  })
})
afterAll(() => h.close())

const API = '/api/v1/integrations'

describe('DNS lookups and row locks', () => {
  it('an integration URL is resolved before its row is locked, and the change is still checked', async () => {
    const org = (await h.json('POST', '/api/v1/orgs', { body: { name: 'Locks Co' } })).body
    orgId = org.id
    const created = await h.json('POST', API, {
      body: {
        orgId: org.id,
        provider: 'generic-ticketing',
        credentials: { apiUrl: 'http://first.test:9/api', apiKey: 'tk_live_first_8a7b6c', projectKey: 'OPS' },
        enabled_capabilities: ['create_ticket', 'add_ticket_note'],
      },
    })
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    integrationId = created.body.data.id as string

    const moved = await h.json('PATCH', `${API}/${integrationId}`, {
      body: { credentials: { apiUrl: 'http://watched-a.test:9/api', apiKey: 'tk_live_second_9c8d7e' } },
    })
    expect(moved.status, JSON.stringify(moved.body)).toBe(200)
    expect(seen).toEqual([{ host: 'watched-a.test', row: 'free' }])

    // Still checked: an address outside the policy is refused, and nothing is saved.
    const refused = await h.json('PATCH', `${API}/${integrationId}`, {
      body: { credentials: { apiUrl: 'http://10.1.2.3/api', apiKey: 'tk_live_third_1a2b3c' } },
    })
    expect(refused.status).toBe(422)
    expect(JSON.stringify(refused.body)).toContain('credentials.apiUrl')
    const scope = { kind: 'org', orgId: org.id } as const
    expect((await loadCredentials(h.ctx, scope, integrationId)).credentials).toMatchObject({
      apiUrl: 'http://watched-a.test:9/api',
      apiKey: 'tk_live_second_9c8d7e',
    })
  })

  it('a URL moved by another change between the check and the lock is checked again before saving', async () => {
    const id = integrationId as string
    seen.length = 0
    // While this update checks the current URL (watched-a), another one moves it to watched-b.
    duringResolve = async () => {
      const other = await h.json('PATCH', `${API}/${id}`, {
        body: { credentials: { apiUrl: 'http://watched-b.test:9/api', apiKey: 'tk_live_other_4d5e6f' } },
      })
      expect(other.status, JSON.stringify(other.body)).toBe(200)
    }
    const res = await h.json('PATCH', `${API}/${id}`, {
      body: { credentials: { apiKey: 'tk_live_mine_7a8b9c' } },
    })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(seen).toEqual([
      { host: 'watched-a.test', row: 'free' },
      { host: 'watched-b.test', row: 'free' },
      { host: 'watched-b.test', row: 'free' },
    ])
    expect((await loadCredentials(h.ctx, { kind: 'org', orgId }, id)).credentials).toMatchObject({
      apiUrl: 'http://watched-b.test:9/api',
      apiKey: 'tk_live_mine_7a8b9c',
    })
  })
})
