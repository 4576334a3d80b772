import { createHash, createHmac } from 'node:crypto'
import type { Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDattoRmm } from '../../src/connectors/datto-rmm/index.ts'
import { allConnectors, createRegistry } from '../../src/connectors/registry.ts'
import { JobService } from '../../src/jobs/service.ts'
import { WIRED_JOBS } from '../../src/wiring.ts'
import { createHarness, type Harness, seedTenants } from '../harness.ts'
import { DattoRmmStandIn } from '../standins/datto-rmm.ts'
import { ConnectWiseStandIn } from '../standins/index.ts'
import { type ConsoleBrowser, openConsole, shot as screenshot } from './browser.ts'

/**
 * The console's Approvals and Change management pages in a real Chromium, against a running Patchbay with the
 * Datto RMM and ConnectWise stand-ins: approve a pending action (refused for the key that asked, with the API's
 * words; approved by another key), and set up change management, sync configurations, create a change, link it
 * to a ConnectWise ticket found by search and see the ticket widget. With SCREENSHOTS=1 the walk also saves
 * docs/console-<page>-<light|dark>.png.
 */

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let rmm: DattoRmmStandIn
let cw: ConnectWiseStandIn
let _base: string
let cb: ConsoleBrowser | undefined
let page: Page

beforeAll(async () => {
  rmm = await new DattoRmmStandIn({ platform: 'merlot' }).start()
  const connectors = createRegistry([
    ...allConnectors().filter((c) => c.descriptor.id !== 'datto-rmm'),
    createDattoRmm({ platformUrl: (p) => rmm.platformUrl(p) }),
  ])
  h = await createHarness({
    connectors,
    env: { PATCHBAY_PROBE_INTERVAL_MS: '0', PATCHBAY_PSA_SYNC_INTERVAL_MS: '0' },
  })
  t = await seedTenants(h)
  cw = await new ConnectWiseStandIn({ clock: h.clock }).start()
  cw.addMember({ firstName: 'Alice', lastName: 'Admin', email: 'alice@msp.example' })
  cw.addMember({ firstName: 'Bob', lastName: 'Tech', email: 'bob@msp.example' })
  cw.addConfiguration({ name: 'srv01', type: 'Server' })
  cw.addConfiguration({ name: 'ws-22', type: 'Workstation' })
  cb = await openConsole(h.app.fetch)
  page = cb.page
  _base = cb.base
})
afterAll(async () => {
  await cb?.close()
  await cw?.close()
  await rmm?.close()
  await h?.close()
})

const shot = (name: string) => screenshot(page, name)

async function signIn(key: string) {
  await page.context().clearCookies()
  await page.goto('/login')
  await page.getByLabel('API key').fill(key)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('button', { name: 'Sign out' }).waitFor()
}

const shown = async (l: Locator) => ((await l.first().textContent()) ?? '').trim()
const orgPath = (rest: string) => `/o/${t.orgA.id}/${rest}`

describe('operator console: approvals and change management', { timeout: 120_000 }, () => {
  it('approves a pending action: refused for the key that asked, approved by another, then sent', async () => {
    const integration = await h.json('POST', '/api/v1/integrations', {
      token: t.orgAToken,
      body: { provider: 'datto-rmm', credentials: rmm.credentials, enabled_capabilities: ['read_resources'] },
    })
    expect(integration.status, JSON.stringify(integration.body)).toBe(201)
    await new JobService(h.ctx, WIRED_JOBS).runDue()
    const asked = await h.json('POST', `/api/v1/integrations/${integration.body.data.id}/actions`, {
      token: t.orgAToken,
      body: {
        action: 'run_quick_job',
        input: { deviceUid: 'dev-0001', jobName: 'Clear temp', componentUid: 'comp-clear-temp' },
      },
    })
    expect(asked.status, JSON.stringify(asked.body)).toBe(202)
    expect(asked.body.status).toBe('pending_approval')
    const sent = () => rmm.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/quickjob')).length

    // The key that asked sees it pending, and its approval is refused with the API's words.
    await signIn(t.orgAToken)
    await page.goto(orgPath('approvals'))
    const row = page.locator('tbody tr').filter({ hasText: 'run_quick_job' })
    await expect.poll(() => shown(row.locator('.badge'))).toBe('pending approval')
    await row.getByRole('button', { name: /^Approve run_quick_job/ }).click()
    await expect.poll(() => shown(page.getByRole('alert'))).toMatch(/^HTTP 403: .*requested/)
    await h.worker.drain()
    expect(sent()).toBe(0)

    // Another key (the partner's) approves it; it is sent once and its attempt shows on the detail page.
    await signIn(t.partnerToken)
    await page.goto(orgPath('approvals'))
    await shot('approvals')
    await page
      .locator('tbody tr')
      .filter({ hasText: 'run_quick_job' })
      .getByRole('button', { name: /^Approve run_quick_job/ })
      .click()
    await expect
      .poll(() => shown(page.getByRole('status')))
      .toBe('Approved: the action is queued and runs now.')
    await h.worker.drain()
    await h.worker.drain()
    expect(sent()).toBe(1)
    await page.goto(orgPath(`approvals/${asked.body.id}`))
    await expect.poll(() => shown(page.locator('dl.kv .badge'))).toBe('completed')
    await expect.poll(() => shown(page.locator('ol.timeline li'))).toContain('Attempt 1')
    await expect.poll(() => shown(page.locator('ol.timeline li'))).toContain('HTTP 200')
    await shot('approval-detail')

    // Another request, rejected with a reason from the form: never sent, and listed under "rejected".
    const second = await h.json('POST', `/api/v1/integrations/${integration.body.data.id}/actions`, {
      token: t.orgAToken,
      body: {
        action: 'run_quick_job',
        input: { deviceUid: 'dev-0001', jobName: 'Reboot', componentUid: 'comp-clear-temp' },
      },
    })
    expect(second.status).toBe(202)
    await page.goto(orgPath(`approvals/${second.body.id}`))
    await page.getByText('Reject…').click()
    await page.getByLabel('Reason').fill('Not during business hours')
    await page.getByRole('button', { name: 'Reject', exact: true }).click()
    await expect.poll(() => shown(page.getByRole('status'))).toBe('Rejected: the action will not run.')
    await expect.poll(() => shown(page.locator('dl.kv'))).toContain('Not during business hours')
    await h.worker.drain()
    expect(sent()).toBe(1)
    await page.goto(`${orgPath('approvals')}?status=rejected`)
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1)
  })

  it('sets up change management, syncs configurations, links a change to a ticket and shows the widget', async () => {
    const conn = await h.json('POST', '/api/v1/psa/connections', {
      token: t.orgAToken,
      body: { provider: 'connectwise', name: 'CW', credentials: cw.credentials },
    })
    expect(conn.status, JSON.stringify(conn.body)).toBe(201)
    const ticket = cw.addTicket({ summary: 'Core switch firmware', board: 'Service Board' })

    // Settings, in the seed's order: company with its board filter, configuration types, sync, statuses.
    await page.goto(orgPath('changes/settings'))
    expect(await page.locator('main h2').evaluateAll((hs) => hs.map((x) => x.textContent?.trim()))).toEqual([
      'ConnectWise integration',
      'Company mapping',
      'Configuration type mapping',
      'Sync configurations',
      'Ticket status settings',
    ])
    await page.getByLabel('Search companies').fill('Contoso')
    await page.getByRole('button', { name: 'Search', exact: true }).click()
    await page.locator('#cs-company').selectOption({ label: 'Contoso Ltd (#250)' })
    await page.getByRole('checkbox', { name: 'Service Board' }).check()
    await page.getByLabel('Device type for “Server”').fill('Server')
    await page.getByRole('button', { name: 'Save settings' }).click()
    await expect.poll(() => shown(page.getByRole('status'))).toBe('Settings saved.')
    await page.getByRole('button', { name: 'Sync Configurations Now' }).click()
    await expect.poll(() => shown(page.locator('.sync-result'))).toMatch(/^1 created, 0 updated, \d+ skipped/)
    await shot('change-settings')

    // A new change, then a ticket found by search and linked: the widget shows it fresh from ConnectWise.
    await page.goto(orgPath('changes'))
    await page.getByRole('link', { name: '+ New change' }).click()
    await page.getByLabel('Title').fill('Core switch firmware upgrade')
    await page.getByLabel('Description').fill('Upgrade and reboot @srv01.')
    for (const [legend, name, email] of [
      ['Change creator', 'Alice Admin', 'alice@msp.example'],
      ['Technical approver', 'Bob Tech', 'bob@msp.example'],
      ['Operational approver', 'Alice Admin', 'alice@msp.example'],
    ] as const) {
      const set = page.getByRole('group', { name: legend })
      await set.getByLabel('Name').fill(name)
      await set.getByLabel('Email').fill(email)
    }
    await page.getByRole('button', { name: 'Create change' }).click()
    await expect
      .poll(() => shown(page.getByRole('heading', { level: 1 })))
      .toBe('Core switch firmware upgrade')
    await expect.poll(() => shown(page.locator('main'))).toContain('srv01')
    await page.getByLabel('Search tickets').fill('core')
    await page.getByRole('button', { name: 'Search', exact: true }).click()
    await page.getByRole('button', { name: `Link ticket #${ticket.id}` }).click()
    await expect
      .poll(() => shown(page.getByRole('status')))
      .toBe('Ticket linked: the change is noted on the ticket.')
    const widget = page.locator('#ticket-widget')
    await expect.poll(() => shown(widget.locator('.ticket-number'))).toBe(`#${ticket.id}`)
    expect(await widget.locator('.ticket-number').getAttribute('href')).toContain(String(ticket.id))
    await expect.poll(() => shown(widget.locator('.ticket-summary'))).toBe('Core switch firmware')
    await expect.poll(() => shown(widget.locator('.ticket-status'))).toBe(ticket.status.name)
    // "Add Time Entry" appears for a ConnectWise member (matched by email).
    await widget.getByLabel('Your ConnectWise email').fill('bob@msp.example')
    await widget.getByRole('button', { name: 'Check' }).click()
    await expect.poll(() => widget.getByRole('link', { name: 'Add Time Entry' }).count()).toBe(1)
    await widget.getByText('Or log time from here').click()
    await widget.getByLabel('Start (UTC)').fill('2026-02-18T09:00')
    await widget.getByLabel('End (UTC)').fill('2026-02-18T09:30')
    await widget.getByLabel('Notes').fill('Prepared the upgrade')
    await widget.getByRole('button', { name: 'Add Time Entry' }).click()
    await expect
      .poll(() => shown(page.getByRole('status')))
      .toBe('Time entry added to the ConnectWise ticket.')
    expect(cw.raw.timeEntries.map((e) => [e.chargeToId, e.notes])).toEqual([
      [ticket.id, 'Prepared the upgrade'],
    ])

    // A status changed at ConnectWise reaches the open page through its callback, without a reload and without
    // Patchbay asking ConnectWise again.
    await expect
      .poll(() => shown(widget.locator('.pushed-status')))
      .toBe('No ConnectWise callback about this ticket yet.')
    const source = await h.json('POST', '/api/v1/webhook-sources', {
      token: t.orgAToken,
      body: { name: 'cw', provider: 'connectwise', integrationId: conn.body.id },
    })
    expect(source.status, JSON.stringify(source.body)).toBe(201)
    const callback = JSON.stringify({
      Action: 'updated',
      CompanyId: 'Contoso',
      Entity: JSON.stringify({
        id: ticket.id,
        summary: 'Core switch firmware',
        status: { id: 9, name: 'Waiting Customer' },
        _info: { lastUpdated: '2026-02-18T10:00:00Z' },
      }),
      ID: ticket.id,
      MessageId: 'msg-widget',
      Metadata: { key_url: cw.callbackKeyUrl },
      Type: 'ticket',
    })
    const signature = createHmac('sha256', createHash('sha256').update(cw.callbackSigningKey).digest())
      .update(callback)
      .digest('base64')
    const sent = await h.app.request(new URL(source.body.url).pathname, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-content-signature': signature },
      body: callback,
    })
    expect(sent.status).toBe(202)
    const ticketReads = cw.requests.filter(
      (r) => r.method === 'GET' && r.path.endsWith(`/tickets/${ticket.id}`),
    ).length
    await new JobService(h.ctx, WIRED_JOBS).runDue()
    await expect
      .poll(() => shown(widget.locator('.pushed-status')), { timeout: 12_000, interval: 500 })
      .toContain('ConnectWise says: Waiting Customer (callback, 2026-02-18 10:00:00Z)')
    await shot('change-detail')
    expect(
      cw.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/tickets/${ticket.id}`)),
    ).toHaveLength(ticketReads)

    // A lifecycle step from the page: the technical approval.
    await page.getByText('Record technical approval').first().click()
    await page.getByLabel('Technical approval comment').fill('Tested in lab')
    await page.getByRole('button', { name: 'Record technical approval' }).click()
    await expect.poll(() => shown(page.getByRole('status'))).toBe('Approval recorded.')
    await expect.poll(() => page.getByText('Record technical approval').count()).toBe(0)
    await page.goto(orgPath('changes'))
    await expect.poll(() => shown(page.locator('tbody tr'))).toContain(`#${ticket.id}`)
    await shot('changes')
  })
})
