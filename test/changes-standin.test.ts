import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConnectWiseStandIn } from './standins/index.ts'

/**
 * The ConnectWise stand-in the change-management tests drive refuses what ConnectWise refuses (MODELS.md of the
 * vendor document set: required fields; the REST conventions: auth headers, `conditions` syntax, JSON Patch
 * bodies). Without this, a connector sending a wrong request could pass test/changes.test.ts.
 */
let cw: ConnectWiseStandIn
let base: string
let headers: Record<string, string>

beforeAll(async () => {
  cw = await new ConnectWiseStandIn().start()
  const c = cw.credentials
  // Straight to the loopback port: these requests do not go through Patchbay's resolver.
  base = `${cw.url.replace('connectwise.test', '127.0.0.1')}/v4_6_release/apis/3.0`
  headers = {
    authorization: `Basic ${Buffer.from(`${c.companyId}+${c.publicKey}:${c.privateKey}`).toString('base64')}`,
    clientId: String(c.clientId),
    'content-type': 'application/json',
    accept: 'application/vnd.connectwise.com+json; version=2026.4',
  }
  cw.addMember({ firstName: 'Bob', lastName: 'Tech', email: 'bob@msp.example' })
})
afterAll(async () => {
  await cw.close()
})

async function call(method: string, path: string, body?: unknown, extra: Record<string, string | null> = {}) {
  const h: Record<string, string> = { ...headers }
  for (const [k, v] of Object.entries(extra)) {
    if (v === null) delete h[k]
    else h[k] = v
  }
  const res = await fetch(`${base}${path}`, {
    method,
    headers: h,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const text = await res.text()
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined }
}

const fields = (r: { body: Record<string, unknown> | undefined }) =>
  ((r.body?.errors as { field: string }[] | undefined) ?? []).map((e) => e.field)

describe('ConnectWise stand-in enforcement', () => {
  it('refuses requests without the Basic company+public:private pair or the clientId header', async () => {
    expect((await call('GET', '/service/boards', undefined, { clientId: null })).status).toBe(401)
    expect(
      (await call('GET', '/service/boards', undefined, { authorization: `Basic ${btoa('contoso:x')}` }))
        .status,
    ).toBe(401)
    expect((await call('GET', '/service/boards')).status).toBe(200)
  })

  it('refuses malformed conditions and unknown condition fields with 400', async () => {
    for (const conditions of [
      'summary like %core%',
      'company/id=250 and',
      'nosuchfield=1',
      'board/id in 1,2',
      '(closedFlag=false',
    ]) {
      const r = await call('GET', `/service/tickets?conditions=${encodeURIComponent(conditions)}`)
      expect(r.status, conditions).toBe(400)
    }
    const ok = await call(
      'GET',
      `/service/tickets?conditions=${encodeURIComponent('company/id=250 and closedFlag=false and board/id in (1,2) and (id=5 or summary like "%a%")')}`,
    )
    expect(ok.status).toBe(200)
  })

  it('takes only JSON Patch arrays for ticket updates, status/id an integer on the ticket’s board', async () => {
    const t = cw.addTicket({ summary: 'Patch me' })
    expect((await call('PATCH', `/service/tickets/${t.id}`, { status: { id: 2 } })).status).toBe(400)
    expect(
      (await call('PATCH', `/service/tickets/${t.id}`, [{ op: 'replace', path: 'status/id', value: '2' }]))
        .status,
    ).toBe(400)
    expect(
      (await call('PATCH', `/service/tickets/${t.id}`, [{ op: 'replace', path: 'status/id', value: 12 }]))
        .status,
    ).toBe(400)
    const ok = await call('PATCH', `/service/tickets/${t.id}`, [
      { op: 'replace', path: 'status/id', value: 2 },
    ])
    expect(ok.status).toBe(200)
    expect(ok.body?.status).toMatchObject({ name: 'In Progress' })
  })

  it('refuses bodies missing the fields ConnectWise requires', async () => {
    const t = cw.addTicket({ summary: 'Bodies' })
    expect(fields(await call('POST', '/service/tickets', { summary: 'No company' }))).toEqual(['company'])
    expect(fields(await call('POST', `/service/tickets/${t.id}/notes`, { text: 'no flag' }))).toEqual([
      'detailDescriptionFlag',
    ])
    const member = { id: cw.raw.members[0]?.id }
    expect(fields(await call('POST', '/schedule/entries', { objectId: t.id, member }))).toEqual(['type'])
    expect(
      fields(
        await call('POST', '/time/entries', { chargeToId: t.id, chargeToType: 'ServiceTicket', member }),
      ),
    ).toEqual(['timeStart'])
    expect(
      fields(await call('POST', '/system/callbacks', { url: 'https://x.example/cb', type: 'ticket' })),
    ).toEqual(['objectId', 'level'])
    expect(
      (await call('POST', '/schedule/entries', { objectId: t.id, member, type: { identifier: 'S' } })).status,
    ).toBe(201)
  })

  it('answers with only the fields asked for', async () => {
    const r = await call('GET', '/system/members?fields=id,identifier')
    expect(r.status).toBe(200)
    expect(r.body).toEqual([{ id: cw.raw.members[0]?.id, identifier: 'btech' }])
  })
})
