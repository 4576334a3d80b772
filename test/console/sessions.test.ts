import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consoleSessions } from '../../src/store/schema/console.ts'
import { createHarness, type Harness, seedTenants } from '../harness.ts'

/**
 * Console sessions over plain HTTP (no browser): what the cookie carries, what the database keeps, expiry,
 * revocation, CSRF and the in-process identity the pages use, which the network cannot claim.
 */
let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>

beforeAll(async () => {
  h = await createHarness()
  t = await seedTenants(h)
})
afterAll(async () => {
  await h.close()
})

async function signIn(key: string, url = 'http://127.0.0.1/login') {
  const res = await h.app.request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ key }).toString(),
  })
  const setCookie = res.headers.get('set-cookie') ?? ''
  const token = /pb_session=([^;]+)/.exec(setCookie)?.[1]
  return { res, setCookie, cookie: `pb_session=${token}` }
}

const page = (path: string, cookie: string) => h.app.request(path, { headers: { cookie } })

describe('console sessions', () => {
  it('keeps only a hash of the session token and the key id, never the key', async () => {
    const { res, setCookie, cookie } = await signIn(t.orgAToken)
    expect(res.status).toBe(303)
    expect(setCookie).toMatch(/HttpOnly/)
    expect(setCookie).toMatch(/SameSite=Strict/)
    expect(setCookie).not.toMatch(/Secure/)
    const rows = await h.ctx.db.orm.select().from(consoleSessions)
    expect(rows).toHaveLength(1)
    const dump = JSON.stringify(rows)
    expect(dump).not.toContain(t.orgAToken)
    expect(dump).not.toContain(cookie.split('=')[1])
    expect((await page(`/o/${t.orgA.id}/integrations`, cookie)).status).toBe(200)
  })

  it('marks the cookie Secure over HTTPS', async () => {
    const { setCookie } = await signIn(t.orgAToken, 'https://patchbay.example.com/login')
    expect(setCookie).toMatch(/Secure/)
  })

  it('refuses sign-in posted from another origin', async () => {
    const res = await h.app.request('http://127.0.0.1/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ key: t.orgAToken }).toString(),
    })
    expect(res.status).toBe(403)
    expect(res.headers.get('set-cookie')).toBeNull()
  })

  it('ends a session after 8 hours', async () => {
    const { cookie } = await signIn(t.orgAToken)
    h.clock.advance(8 * 3_600_000 - 1000)
    expect((await page(`/o/${t.orgA.id}/status`, cookie)).status).toBe(200)
    h.clock.advance(1000)
    const res = await page(`/o/${t.orgA.id}/status`, cookie)
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/login')
  })

  it('ends every session of a revoked key at once', async () => {
    const key = await h.json('POST', '/api/v1/api-keys', {
      body: { name: 'tech', scope: 'organization', orgId: t.orgA.id },
    })
    const { cookie } = await signIn(key.body.token)
    expect((await page(`/o/${t.orgA.id}/webhooks`, cookie)).status).toBe(200)
    expect((await h.request('DELETE', `/api/v1/api-keys/${key.body.id}`)).status).toBeLessThan(300)
    expect((await page(`/o/${t.orgA.id}/webhooks`, cookie)).status).toBe(303)
  })

  it('accepts a post with the CSRF token as header or field, and refuses one with a wrong token', async () => {
    const { cookie } = await signIn(t.orgAToken)
    const html = await (await page(`/o/${t.orgA.id}/webhooks/new`, cookie)).text()
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] as string
    expect(csrf).toBeTruthy()
    const post = (headers: Record<string, string>, form: Record<string, string>) =>
      h.app.request(`/o/${t.orgA.id}/webhooks/new`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({
          name: 'x',
          url: 'https://example.com/hook',
          events: '*',
          ...form,
        }).toString(),
      })
    expect((await post({ 'x-csrf-token': 'wrong' }, {})).status).toBe(403)
    expect((await post({}, { _csrf: `${csrf}x` })).status).toBe(403)
    // With the token the request reaches the API, which answers for itself (here: the address is refused or saved).
    expect((await post({ 'x-csrf-token': csrf }, {})).status).not.toBe(403)
  })

  it('gives the network no way to claim the in-process identity', async () => {
    const res = await h.app.request(
      '/api/v1/orgs',
      { headers: { 'x-console-key-id': t.partner.id } },
      { incoming: {}, outgoing: {} },
    )
    expect(res.status).toBe(401)
  })
})
