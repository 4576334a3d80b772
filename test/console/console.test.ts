import { createHmac } from 'node:crypto'
import type { Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JobService } from '../../src/jobs/service.ts'
import { WIRED_JOBS } from '../../src/wiring.ts'
import { createHarness, type Harness, seedTenants } from '../harness.ts'
import { ConnectWiseStandIn } from '../standins/index.ts'
import { Receiver } from '../standins/receiver.ts'
import { type ConsoleBrowser, openConsole, shot as screenshot } from './browser.ts'

/**
 * The operator console in a real Chromium (Debian's package) against a running Patchbay on the test database, with
 * the ConnectWise stand-in and a webhook receiver: the flows a technician walks. With SCREENSHOTS=1 (npm run
 * screenshots) the same walk also saves docs/console-<page>-<light|dark>.png.
 */

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
let cw: ConnectWiseStandIn
let rx: Receiver
let base: string
let cb: ConsoleBrowser | undefined
let page: Page

beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_PSA_SYNC_INTERVAL_MS: '0' } })
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
  cw = await new ConnectWiseStandIn({ clock: h.clock }).start()
  rx = await new Receiver().start()
  cb = await openConsole(h.app.fetch)
  page = cb.page
  base = cb.base
})
afterAll(async () => {
  await cb?.close()
  await rx?.stop()
  await cw?.close()
  await h?.close()
})

const shot = (name: string) => screenshot(page, name)

async function signIn(key: string) {
  await page.goto('/login')
  await page.getByLabel('API key').fill(key)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

/** What the element shows (the first match), as a screen shows it. */
const shown = async (l: Locator) => ((await l.first().textContent()) ?? '').trim()

const orgPath = (rest: string) => `/o/${t.orgA.id}/${rest}`

/** The one integration of organization A (the ConnectWise one the integration flow adds). */
async function integrationId(): Promise<string> {
  const r = await h.json('GET', `/api/v1/integrations?orgId=${t.orgA.id}`)
  expect(r.body.data).toHaveLength(1)
  return r.body.data[0].id
}

// A browser on a shared 2-core machine: a step can take seconds, and the walk with screenshots longer still.
describe('operator console', { timeout: 120_000 }, () => {
  it('refuses a bad key and keeps nothing of it', async () => {
    await page.goto('/login')
    await shot('sign-in')
    await signIn('pbk_not_a_real_key')
    await expect
      .poll(() => shown(page.getByRole('alert')))
      .toBe('That API key is not valid or has been revoked.')
    expect(await page.context().cookies()).toEqual([])
    expect(
      await page.evaluate<string>('JSON.stringify({ ...localStorage, ...sessionStorage })'),
    ).not.toContain('pbk_')
  })

  it('signs a partner key in with an HttpOnly, SameSite=Strict session cookie and lets it pick an organization', async () => {
    await signIn(t.partnerToken)
    expect(page.url()).toBe(`${base}/`)
    const [cookie] = await page.context().cookies()
    expect(cookie).toMatchObject({ name: 'pb_session', httpOnly: true, sameSite: 'Strict' })
    expect(cookie?.value).not.toContain(t.partnerToken)
    await page.getByRole('link', { name: 'Contoso' }).waitFor()
    await expect.poll(() => page.getByRole('link', { name: 'Initech' }).count()).toBe(0)
    await shot('organizations')
    await page.getByRole('link', { name: 'Contoso' }).click()
    await expect.poll(() => shown(page.getByRole('heading', { level: 1 }))).toBe('Integrations')
    expect(page.url()).toBe(`${base}${orgPath('integrations')}`)
  })

  it("shows another tenant's organization as not found", async () => {
    const res = await page.goto(`/o/${t.orgC.id}/integrations`)
    expect(res?.status()).toBe(404)
    await expect.poll(() => shown(page.getByRole('alert'))).toContain('Not found')
  })

  it('refuses a state-changing request without the CSRF token', async () => {
    const res = await page.request.post(orgPath('webhooks/new'), {
      form: { name: 'x', url: rx.url('/csrf'), events: '*' },
    })
    expect(res.status()).toBe(403)
    expect(await res.text()).toContain('CSRF')
    const listed = await h.json('GET', `/api/v1/webhooks?orgId=${t.orgA.id}`)
    expect(listed.body.data).toEqual([])
  })

  it("adds an integration: the test fails with the vendor's words, the fixed one saves and turns active", async () => {
    await page.goto(orgPath('integrations'))
    await page.getByRole('link', { name: '+ Add integration' }).click()
    await shot('add-integration-providers')
    await page.getByRole('link', { name: 'ConnectWise PSA' }).click()
    const good = cw.credentials
    for (const [k, v] of Object.entries(good)) await page.locator(`[name="cred.${k}"]`).fill(v)
    await expect.poll(() => page.locator('[name="cred.privateKey"]').getAttribute('type')).toBe('password')
    await page.locator('[name="cred.privateKey"]').fill('wrong-private-key')
    await page.getByRole('button', { name: 'Test connection' }).click()
    await expect
      .poll(() => shown(page.locator('#test-result .vendor-message')))
      .toContain('The public/private key pair or the company is not valid')
    await shot('add-integration-test-failed')
    await page.locator('[name="cred.privateKey"]').fill(good.privateKey as string)
    await page.getByRole('button', { name: 'Test connection' }).click()
    await expect.poll(() => shown(page.locator('#test-result'))).toContain('Connection successful')
    await page.getByRole('button', { name: 'Save' }).click()
    await expect.poll(() => shown(page.getByRole('heading', { level: 1 }))).toContain('ConnectWise')
    await expect.poll(() => shown(page.locator('main'))).toContain('pending verify')
    await expect.poll(() => shown(page.locator('main'))).not.toContain(good.privateKey as string)
    // The status page is open while the background verification runs: it turns active without a reload.
    await page.goto(orgPath('status'))
    await expect.poll(() => shown(page.locator('tbody tr .badge').first())).toBe('pending verify')
    await jobs.runDue()
    await expect
      .poll(() => shown(page.locator('tbody tr .badge').first()), { timeout: 12_000, interval: 500 })
      .toBe('active')
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1)
    await expect.poll(() => shown(page.locator('.card').first())).toContain('1Connected')
    await shot('integration-status')
    await page.goto(orgPath('integrations'))
    await expect.poll(() => shown(page.locator('tbody tr .badge').first())).toBe('active')
    await shot('integrations')
    await page.locator('tbody a').first().click()
    await expect.poll(() => shown(page.locator('main'))).toContain('(secret, never shown)')
    await shot('integration-detail')
  })

  it('adds a routing rule and dry-runs it', async () => {
    await page.goto(orgPath('routing'))
    await page.getByText('Add a rule').click()
    await page.getByLabel('Capability', { exact: true }).first().selectOption('create_ticket')
    await page.locator('#rr-conditions').fill('[{"field":"severity","operator":"eq","value":"critical"}]')
    await page.getByRole('button', { name: 'Add rule' }).click()
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1)
    await page.locator('#dr-capability').selectOption('create_ticket')
    await page.locator('#dr-context').fill('{"severity":"critical"}')
    await page.getByRole('button', { name: 'Evaluate' }).click()
    await expect.poll(() => shown(page.locator('#dry-run strong'))).toBe('→ ConnectWise PSA')
    await expect.poll(() => shown(page.locator('#dry-run'))).toContain('via rule')
    await shot('routing')
    // Edited in place: the form comes filled in, and saving keeps what was not changed.
    await page.getByRole('link', { name: /^Edit rule / }).click()
    await expect
      .poll(async () => JSON.parse(await page.locator('#rr-conditions').inputValue()))
      .toEqual([{ field: 'severity', operator: 'eq', value: 'critical' }])
    await page.locator('#rr-priority').fill('5')
    await page.getByRole('button', { name: 'Save rule' }).click()
    await expect.poll(() => shown(page.locator('tbody tr td:nth-child(4)'))).toBe('5')
    const rules = await h.json('GET', `/api/v1/routing-rules?orgId=${t.orgA.id}`)
    expect(rules.body.data).toMatchObject([
      { capability: 'create_ticket', priority: 5, conditions: [{ field: 'severity', value: 'critical' }] },
    ])
  })

  it('creates a webhook, sends a test event and shows the delivery with its attempts', async () => {
    await page.goto(orgPath('webhooks'))
    await page.getByRole('link', { name: '+ New webhook' }).click()
    await page.locator('#wh-name').fill('NOC board')
    await page.locator('#wh-url').fill(rx.url('/hook'))
    await page.getByLabel('Retries after the first attempt').fill('0')
    await page.getByRole('checkbox', { name: /^webhook\.test/ }).check()
    await page.getByRole('checkbox', { name: /^alert\.triggered/ }).check()
    await shot('webhook-form')
    await page.getByRole('button', { name: 'Save webhook' }).click()
    await expect.poll(() => shown(page.getByRole('heading', { level: 1 }))).toBe('NOC board')
    await page.getByRole('button', { name: 'Send test event' }).click()
    await expect.poll(() => shown(page.getByRole('status').first())).toContain('Test delivery queued.')
    expect(await h.worker.drain()).toBe(1)
    expect(rx.at('/hook')).toHaveLength(1)
    await page.reload() // a GET: the test event was sent from a form whose answer redirected here
    const row = page.locator('#live tbody tr').first()
    await expect.poll(() => shown(row.locator('.badge'))).toBe('delivered')
    await row.locator('summary').click()
    await expect
      .poll(() => shown(row.locator('ol.timeline')))
      .toContain('1 attempt made; last answer: HTTP 200')
    await shot('webhook-detail')
    await page.goto(orgPath('webhooks'))
    await shot('webhooks')
  })

  it('recovers failed deliveries in bulk after confirming their count', async () => {
    rx.respond('/hook', { status: 500, body: 'down for maintenance' })
    await page.goto(orgPath('webhooks'))
    await page.getByRole('link', { name: 'NOC board' }).click()
    for (let i = 0; i < 2; i++) {
      await page.getByRole('button', { name: 'Send test event' }).click()
      await expect.poll(() => shown(page.getByRole('status').first())).toContain('Test delivery queued.')
    }
    await h.worker.drain()
    await page.goto(`${orgPath('deliveries')}?status=failed`)
    await expect.poll(() => page.locator('#live tbody tr').count()).toBe(2)
    await shot('deliveries')
    await page.getByRole('link', { name: 'Recover 2 failed deliveries…' }).click()
    await expect.poll(() => shown(page.locator('strong.count'))).toBe('2')
    await shot('deliveries-recover')
    rx.respond('/hook', { status: 200 })
    await page.getByRole('button', { name: 'Retry 2 deliveries' }).click()
    await expect.poll(() => shown(page.getByRole('status'))).toBe('2 failed deliveries queued for retry')
    expect(await h.worker.drain()).toBe(2)
    await page.goto(`${orgPath('deliveries')}?status=delivered`)
    await expect.poll(() => page.locator('#live tbody tr').count()).toBe(3)
    // Cursor paging, two a page: the third (oldest) delivery is one "Older →" away, the filter still applied.
    await page.goto(`${orgPath('deliveries')}?status=delivered&limit=2`)
    await expect.poll(() => page.locator('#live tbody tr').count()).toBe(2)
    const firstPage = await page.locator('#live tbody tr').allTextContents()
    await page.getByRole('link', { name: 'Older →' }).click()
    await expect.poll(() => new URL(page.url()).searchParams.get('cursor')).toMatch(/^[0-9a-f-]{36}$/)
    expect(new URL(page.url()).searchParams.get('status')).toBe('delivered')
    expect(new URL(page.url()).searchParams.get('limit')).toBe('2')
    await expect.poll(() => page.locator('#live tbody tr').count()).toBe(1)
    expect(firstPage).not.toContain(await page.locator('#live tbody tr').first().textContent())
    await expect.poll(() => shown(page.locator('#live tbody tr .badge'))).toBe('delivered')
    await expect.poll(() => page.getByRole('link', { name: 'Older →' }).count()).toBe(0)
    await page.getByRole('link', { name: '← Newest' }).click()
    await expect.poll(() => page.locator('#live tbody tr').count()).toBe(2)
  })

  it('shows each attempt of a delivery on its timeline, the request headers masked', async () => {
    rx.respond('/flaky', [
      { status: 503, body: 'warming up' },
      { status: 200, body: 'ok' },
    ])
    await page.goto(orgPath('webhooks/new'))
    await page.locator('#wh-name').fill('Flaky receiver')
    await page.locator('#wh-url').fill(rx.url('/flaky'))
    await page.getByLabel('Retries after the first attempt').fill('1')
    await page.getByRole('checkbox', { name: /^webhook\.test/ }).check()
    await page.locator('input[name="hkey0"]').fill('Authorization')
    await page.locator('input[name="hval0"]').fill('Bearer flaky-secret-7788')
    await page.getByRole('button', { name: 'Save webhook' }).click()
    await expect.poll(() => shown(page.getByRole('heading', { level: 1 }))).toBe('Flaky receiver')
    await page.getByRole('button', { name: 'Send test event' }).click()
    await expect.poll(() => shown(page.getByRole('status').first())).toContain('Test delivery queued.')
    expect(await h.worker.drain()).toBe(1)
    h.clock.advance(1000)
    expect(await h.worker.drain()).toBe(1)
    expect(rx.at('/flaky').map((r) => r.headers.authorization)).toEqual([
      'Bearer flaky-secret-7788',
      'Bearer flaky-secret-7788',
    ])
    await page.reload()
    const row = page.locator('#live tbody tr').first()
    await expect.poll(() => shown(row.locator('.badge'))).toBe('delivered')
    await row.locator('summary').click()
    await row.getByRole('link', { name: 'Each attempt, with its request and response →' }).click()
    await expect.poll(() => shown(page.getByRole('heading', { level: 1 }))).toBe('Delivery: webhook.test')
    const steps = page.getByRole('list', { name: 'Attempts' }).locator(':scope > li')
    await expect.poll(() => steps.count()).toBe(2)
    const first = steps.nth(0)
    expect(await shown(first)).toMatch(/^Attempt 1 .* — retry HTTP 503 in \d+ ms/)
    expect(await shown(first.locator('.vendor-message'))).toBe('Endpoint answered 503')
    await first.getByText('Request headers').click()
    const sentId = rx.at('/flaky')[0]?.headers['x-breeze-delivery-id']
    await expect.poll(() => shown(first.locator('dl.kv'))).toContain('Authorization****7788')
    expect(await shown(first.locator('dl.kv'))).toContain(`x-breeze-delivery-id${sentId}`)
    await first.getByText('Response body').click()
    await expect.poll(() => shown(first.locator('pre.json'))).toBe('warming up')
    expect(await shown(steps.nth(1))).toMatch(/^Attempt 2 .* — delivered HTTP 200/)
    expect(await page.content()).not.toContain('flaky-secret')
    await shot('delivery-detail')
    // Under another organization's URL (one the same partner key reaches), the delivery is not found.
    const deliveryId = new URL(page.url()).pathname.split('/').at(-1)
    const elsewhere = await page.goto(`/o/${t.orgB.id}/deliveries/${deliveryId}`)
    expect(elsewhere?.status()).toBe(404)
  })

  it('adds a webhook source, then replays its failed inbound event from the failure analysis', async () => {
    await page.goto(orgPath('inbound'))
    await page.getByRole('link', { name: 'Webhook sources' }).click()
    await page.getByLabel('Name').fill('Unused feed')
    await page.getByLabel('Provider').fill('no-such-vendor')
    await page.getByRole('button', { name: 'Add source' }).click()
    await expect.poll(() => shown(page.getByRole('alert'))).toContain('"no-such-vendor" cannot send webhooks')
    await page.getByLabel('Name').fill('RMM alerts')
    await page.getByLabel('Provider').fill('generic')
    await page.getByRole('button', { name: 'Add source' }).click()
    const secretCard = page.locator('section.card', {
      has: page.getByRole('heading', { name: 'Paste these at the vendor' }),
    })
    const url = await shown(secretCard.locator('dd code').nth(0))
    const secret = await shown(secretCard.locator('dd code').nth(1))
    // The address is the one the operator reached Patchbay at, not the in-process call's.
    expect(url.startsWith(`${base}/hooks/`)).toBe(true)
    await shot('webhook-sources')
    await page.getByLabel('Name').fill('Spare')
    await page.getByLabel('Provider').fill('generic')
    await page.getByRole('button', { name: 'Add source' }).click()
    await page.getByRole('link', { name: 'Delete Spare' }).click()
    await page.getByRole('button', { name: 'Delete source and its events' }).click()
    await expect.poll(() => shown(page.getByRole('status').first())).toBe('Source deleted.')
    const left = await h.json('GET', `/api/v1/webhook-sources?orgId=${t.orgA.id}`)
    expect(left.body.data.map((x: { name: string }) => x.name)).toEqual(['RMM alerts'])
    const body = JSON.stringify({ type: 'no.such.type', data: {} })
    const u = new URL(url)
    const sent = await h.app.request(`${u.pathname}${u.search}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-signature': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
      },
      body,
    })
    expect(sent.status).toBe(202)
    await jobs.runDue()
    await page.goto(orgPath('inbound'))
    await expect
      .poll(() => shown(page.locator('#fa + ul')))
      .toContain('"no.such.type" is not a platform event type')
    await shot('webhook-events')
    await page.getByRole('button', { name: /^Replay event/ }).click()
    await expect.poll(() => shown(page.locator('main .notice').first())).toContain('Replay queued as event')
    const events = await h.json('GET', `/api/v1/webhook-events?orgId=${t.orgA.id}`)
    expect(events.body.data).toHaveLength(2)
    expect(events.body.data[0].replayOf).toBe(events.body.data[1].id)
  })

  it("edits a webhook source's name, integration and event types, refusing a bad type with the API's words", async () => {
    const made = await h.json('POST', '/api/v1/webhook-sources', {
      body: { orgId: t.orgA.id, name: 'CW tickets', provider: 'connectwise' },
    })
    expect(made.status, JSON.stringify(made.body)).toBe(201)
    await page.goto(orgPath('inbound/sources'))
    await page.getByRole('link', { name: 'Edit CW tickets' }).click()
    await page.getByLabel('Name').fill('CW service tickets')
    await page.getByLabel('Integration').selectOption(await integrationId())
    await page.getByLabel('Event types').fill('psa.ticket.*, no.such.type')
    await page.getByRole('button', { name: 'Save source' }).click()
    await expect.poll(() => shown(page.getByRole('alert'))).toContain('Unknown event type "no.such.type"')
    // Nothing was saved, and the form keeps what was typed.
    expect(await page.getByLabel('Name').inputValue()).toBe('CW service tickets')
    expect((await h.json('GET', `/api/v1/webhook-sources/${made.body.id}`)).body).toMatchObject({
      name: 'CW tickets',
      integrationId: null,
      eventTypes: null,
    })
    await page.getByLabel('Event types').fill('psa.ticket.*')
    await shot('webhook-source-edit')
    await page.getByRole('button', { name: 'Save source' }).click()
    await expect.poll(() => shown(page.getByRole('status').first())).toBe('Source saved.')
    expect((await h.json('GET', `/api/v1/webhook-sources/${made.body.id}`)).body).toMatchObject({
      name: 'CW service tickets',
      integrationId: await integrationId(),
      eventTypes: ['psa.ticket.*'],
    })
    // Emptied, the types accept every event again; the integration is unlinked with "None".
    await page.getByRole('link', { name: 'Edit CW service tickets' }).click()
    expect(await page.getByLabel('Event types').inputValue()).toBe('psa.ticket.*')
    await page.getByLabel('Event types').fill('')
    await page.getByLabel('Integration').selectOption('')
    await page.getByRole('button', { name: 'Save source' }).click()
    await expect.poll(() => shown(page.getByRole('status').first())).toBe('Source saved.')
    expect((await h.json('GET', `/api/v1/webhook-sources/${made.body.id}`)).body).toMatchObject({
      integrationId: null,
      eventTypes: null,
    })
    await h.json('DELETE', `/api/v1/webhook-sources/${made.body.id}`)
  })

  // Approvals and change management walk their own flows in ops.test.ts.
  it('shows the remaining pages', async () => {
    for (const [slug, expected] of [
      ['psa', 'Ticket mappings'],
      ['microsoft365', 'Microsoft 365'],
      ['audit', 'webhook_source.create'],
    ] as const) {
      const res = await page.goto(orgPath(slug))
      expect(res?.status(), slug).toBe(200)
      await expect.poll(() => shown(page.locator('main'))).toContain(expected)
      await shot(slug)
    }
  })

  it('syncs a PSA connection, its progress shown while it runs without a reload', async () => {
    await page.goto(orgPath('psa'))
    // The connection is the integration added above; it is edited on that integration's page.
    expect(await page.locator(`tbody a[href$="/integrations/${await integrationId()}"]`).count()).toBe(1)
    await page.getByRole('button', { name: 'Sync ticket statuses now' }).click()
    await expect.poll(() => shown(page.getByRole('status').first())).toContain('Sync queued')
    await expect.poll(() => page.getByRole('progressbar', { name: 'Ticket sync queued' }).count()).toBe(1)
    await expect.poll(() => shown(page.locator('.sync .badge'))).toBe('queued')
    await jobs.runDue()
    await expect
      .poll(() => shown(page.locator('.sync .badge')), { timeout: 12_000, interval: 500 })
      .toBe('completed')
    expect(await page.getByRole('progressbar').count()).toBe(0)
    expect(await shown(page.locator('.sync'))).toContain('0 checked, 0 updated, 0 missing')
    await shot('psa')
  })

  it("edits a PSA connection's ticket automation, a missing company refused with the API's words", async () => {
    const id = await integrationId()
    const settingsOf = async () => (await h.json('GET', `/api/v1/psa/connections/${id}`)).body.settings
    const before = await settingsOf()
    await page.goto(orgPath('psa'))
    await page.getByRole('link', { name: /^Ticket automation settings of / }).click()
    await page.getByLabel('Create a ticket for each triggered alert').check()
    await page.getByLabel('Board').fill('Service Desk')
    await page.getByLabel('Priority for critical alerts').fill('Priority 1 - Emergency Response')
    await page.getByLabel('Status when the alert resolves').fill('>Closed')
    await page.getByRole('checkbox', { name: 'info' }).uncheck()
    await page.getByRole('button', { name: 'Save settings' }).click()
    // ConnectWise tickets need a company: refused, nothing saved, the form as typed.
    await expect.poll(() => shown(page.getByRole('alert'))).toContain('need a company')
    expect(await page.getByLabel('Board').inputValue()).toBe('Service Desk')
    expect(await page.getByRole('checkbox', { name: 'info' }).isChecked()).toBe(false)
    expect(await settingsOf()).toEqual(before)
    await page.getByLabel('Company').fill('Acme Corp')
    await shot('psa-settings')
    await page.getByRole('button', { name: 'Save settings' }).click()
    await expect.poll(() => shown(page.getByRole('status').first())).toBe('Ticket automation settings saved.')
    expect(await settingsOf()).toEqual({
      autoCreateTickets: true,
      autoSync: true,
      companyId: 'Acme Corp',
      defaultBoard: 'Service Desk',
      priorityMap: { critical: 'Priority 1 - Emergency Response' },
      statusMap: { resolved: '>Closed' },
      severities: ['critical', 'warning'],
    })
    // Shown again as saved; turned off, the automation keeps its other settings.
    await page.getByRole('link', { name: /^Ticket automation settings of / }).click()
    expect(await page.getByLabel('Priority for critical alerts').inputValue()).toBe(
      'Priority 1 - Emergency Response',
    )
    await page.getByLabel('Create a ticket for each triggered alert').uncheck()
    await page.getByRole('button', { name: 'Save settings' }).click()
    await expect.poll(() => shown(page.getByRole('status').first())).toBe('Ticket automation settings saved.')
    expect(await settingsOf()).toMatchObject({ autoCreateTickets: false, companyId: 'Acme Corp' })
  })

  it('labels every control, shows focus, keeps text contrast (WCAG AA) light and dark, and fits a phone', async () => {
    const pages = ['integrations', 'status', 'routing', 'webhooks', 'webhooks/new', 'deliveries', 'inbound']
    const more = ['inbound/sources', 'psa', 'approvals', 'changes', 'microsoft365', 'audit']
    // The detail and edit pages of what the flows above made (approvals and changes: ops.test.ts).
    const first = async (path: string) => {
      const r = await h.json('GET', `/api/v1/${path}${path.includes('?') ? '&' : '?'}orgId=${t.orgA.id}`)
      const id = r.body.data?.[0]?.id as string | undefined
      expect(id, path).toBeTruthy()
      return id as string
    }
    const iid = await integrationId()
    const [wid, did, sid, rid] = [
      await first('webhooks'),
      await first('deliveries'),
      await first('webhook-sources'),
      await first('routing-rules'),
    ]
    const details = [
      `integrations/${iid}`,
      `integrations/${iid}/delete`,
      `psa/${iid}/settings`,
      `webhooks/${wid}`,
      `webhooks/${wid}/edit`,
      `deliveries/${did}`,
      `inbound/sources/${sid}/edit`,
      `inbound/sources/${sid}/delete`,
      `routing/${rid}/edit`,
    ]
    // Controls without an accessible name: no label, no aria-label, and (buttons) no text.
    const unlabeled = `JSON.stringify([...document.querySelectorAll('input,select,textarea,button')]
      .filter((e) => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
        && !e.getAttribute('aria-labelledby') && !(e.tagName === 'BUTTON' && e.textContent.trim()))
      .map((e) => e.outerHTML.slice(0, 100)))`
    // Text whose contrast with the background behind it is under 4.5:1 (large bold text: 3:1).
    const lowContrast = `(() => {
      const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number)
      const lum = (c) => { const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4 }
        return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]) }
      const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor)
        if (c.length === 3 || c[3] > 0) return c } return [255, 255, 255] }
      const out = []
      for (const el of document.querySelectorAll('body *:not(svg *)')) {
        if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue
        const st = getComputedStyle(el)
        if (st.display === 'none' || st.visibility === 'hidden' || el.getClientRects().length === 0) continue
        if (el.closest('.skip')) continue
        const a = lum(rgb(st.color)), b = lum(bg(el))
        const r = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)
        const large = parseFloat(st.fontSize) >= 24 || (parseFloat(st.fontSize) >= 18.66 && Number(st.fontWeight) >= 700)
        if (r < (large ? 3 : 4.5)) out.push(el.tagName + ' ' + r.toFixed(2) + ' ' + el.textContent.trim().slice(0, 40))
      }
      return JSON.stringify(out)
    })()`
    for (const slug of [...pages, ...more, ...details]) {
      expect((await page.goto(orgPath(slug)))?.status(), slug).toBe(200)
      expect(JSON.parse(await page.evaluate<string>(unlabeled)), slug).toEqual([])
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme })
        expect(JSON.parse(await page.evaluate<string>(lowContrast)), `${slug} ${scheme}`).toEqual([])
      }
      await page.emulateMedia({ colorScheme: 'light' })
    }
    // The keyboard: the first Tab reaches the skip link, shown with a focus ring; Enter moves on to the content.
    await page.goto(orgPath('deliveries'))
    await page.keyboard.press('Tab')
    expect(await page.evaluate<string>('document.activeElement.textContent.trim()')).toBe('Skip to content')
    expect(await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle')).toBe('solid')
    await page.keyboard.press('Enter')
    expect(new URL(page.url()).hash).toBe('#main')
    // A phone: one column, nothing wider than the screen (wide tables scroll in their own box).
    const tooWide = `JSON.stringify([...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap'))
      .map((e) => e.tagName + '.' + e.className))`
    await page.setViewportSize({ width: 390, height: 844 })
    try {
      for (const slug of [...pages, ...more, ...details]) {
        await page.goto(orgPath(slug))
        expect(
          await page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth'),
        ).toBe(true)
        expect(JSON.parse(await page.evaluate<string>(tooWide)), slug).toEqual([])
      }
      await page.goto(orgPath('deliveries'))
      await shot('phone-deliveries')
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 })
    }
  })

  it('signs out: the session ends on the server', async () => {
    const [cookie] = await page.context().cookies()
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('button', { name: 'Sign in' }).waitFor()
    const again = await fetch(`${base}${orgPath('integrations')}`, {
      headers: { cookie: `pb_session=${cookie?.value}` },
      redirect: 'manual',
    })
    expect(again.status).toBe(303)
    expect(again.headers.get('location')).toBe('/login')
  })

  it('an organization key sees only its own organization', async () => {
    await signIn(t.orgAToken)
    expect(page.url()).toBe(`${base}${orgPath('integrations')}`)
    await expect.poll(() => page.getByRole('link', { name: 'switch organization' }).count()).toBe(0)
    const res = await page.goto(`/o/${t.orgB.id}/integrations`)
    expect(res?.status()).toBe(404)
  })
})
