import { randomUUID } from 'node:crypto'
import type { Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHarness, type Harness, seedTenants } from '../harness.ts'
import { type GraphStandIn, startGraph } from '../standins/graph.ts'
import {
  MicrosoftDirectory,
  type MicrosoftLoginStandIn,
  type MsTenant,
  startMicrosoftLogin,
} from '../standins/microsoft-login.ts'
import {
  type PartnerCenterCustomer,
  type PartnerCenterStandIn,
  startPartnerCenter,
} from '../standins/partner-center.ts'
import { type ConsoleBrowser, openConsole, shot as screenshot } from './browser.ts'

/**
 * The Microsoft 365 CSP/GDAP wizard in the console, in a real Chromium, against the Entra ID sign-in, Graph and
 * Partner Center stand-ins: the partner app (refused with Microsoft's words, then saved) → Partner Center's
 * customers → two chosen → one verified, one failed at consent with what to fix → fixed and resumed.
 * With SCREENSHOTS=1 the walk also saves docs/console-microsoft365*-<light|dark>.png.
 */
const APP = randomUUID()
const SECRET = 'Xy9~partner-app-secret-never-shown'
const PARTNER_TENANT = randomUUID()

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let dir: MicrosoftDirectory
let login: MicrosoftLoginStandIn
let graph: GraphStandIn
let pc: PartnerCenterStandIn
let contoso: MsTenant
let northwind: MsTenant
let northwindAtPc: PartnerCenterCustomer
let cb: ConsoleBrowser | undefined
let page: Page

function tenant(name: string, domain: string): MsTenant {
  return dir.addTenant({
    id: randomUUID(),
    name,
    domain,
    users: [
      {
        id: randomUUID(),
        displayName: `Admin of ${name}`,
        userPrincipalName: `admin@${domain}`,
        mail: null,
        accountEnabled: true,
        assignedLicenses: [],
      },
    ],
  })
}

beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_PROBE_INTERVAL_MS: '0' } })
  t = await seedTenants(h)
  dir = new MicrosoftDirectory(h.clock)
  dir.addApp({ appId: APP, secret: SECRET, homeTenant: PARTNER_TENANT })
  dir.addTenant({ id: PARTNER_TENANT, domain: 'acmemsp.onmicrosoft.com', name: 'Acme MSP' })
  contoso = tenant('Contoso Ltd', 'contoso.onmicrosoft.com')
  northwind = tenant('Northwind Traders', 'northwind.onmicrosoft.com')
  login = await startMicrosoftLogin(dir)
  graph = await startGraph(dir)
  pc = await startPartnerCenter(dir, { partnerTenant: PARTNER_TENANT })
  pc.addCustomer(contoso)
  northwindAtPc = pc.addCustomer(northwind, { gdapRoles: ['Directory Readers'] })
  cb = await openConsole(h.app.fetch)
  page = cb.page
})
afterAll(async () => {
  await cb?.close()
  await Promise.all([login?.close(), graph?.close(), pc?.close()])
  await h?.close()
})

const shot = (name: string) => screenshot(page, name)

const shown = async (l: Locator) => ((await l.first().textContent()) ?? '').trim()
const row = (customerId: string) => page.locator(`#live tr[data-customer="${customerId}"]`)

describe('operator console: Microsoft 365 onboarding', { timeout: 120_000 }, () => {
  it('saves the partner app only once Microsoft accepts it, showing its refusal verbatim', async () => {
    await page.goto('/login')
    await page.getByLabel('API key').fill(t.partnerToken)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('link', { name: 'Contoso' }).waitFor()
    await page.goto(`/o/${t.orgA.id}/microsoft365`)
    await expect.poll(() => shown(page.locator('main'))).toContain('No partner app registered yet')
    await page.getByLabel('Application (client) id').fill(APP)
    await page.getByLabel('Client secret').fill('not-the-secret-9876')
    await page.getByLabel('Partner tenant (id or domain)').fill(PARTNER_TENANT)
    await page.getByText('Endpoints (sovereign clouds, stand-ins)').click()
    await page.getByLabel('Sign-in base URL').fill(login.baseUrl)
    await page.getByLabel('Graph base URL').fill(graph.baseUrl)
    await page.getByLabel('Partner Center base URL').fill(pc.baseUrl)
    await page.getByRole('button', { name: 'Save partner app' }).click()
    await expect
      .poll(() => shown(page.getByRole('alert')))
      .toContain('Microsoft Entra ID answered 401: AADSTS7000215: Invalid client secret provided.')
    expect(await page.content()).not.toContain('not-the-secret-9876')
    // the form comes back filled in, but for the secret
    expect(await page.getByLabel('Partner Center base URL').inputValue()).toBe(pc.baseUrl)
    await page.getByLabel('Client secret').fill(SECRET)
    await page.getByRole('button', { name: 'Save partner app' }).click()
    await expect.poll(() => shown(page.getByRole('status').first())).toContain('Partner app saved')
    await expect.poll(() => shown(page.locator('#m365-app'))).toBe(APP)
    expect(await page.content()).not.toContain(SECRET)
    await shot('microsoft365-app')
  })

  it("lists Partner Center's customers, onboards the chosen ones and shows each one's progress and what to fix", async () => {
    await page.getByRole('link', { name: '2. Choose customers…' }).click()
    await expect.poll(() => page.locator('tbody tr').count()).toBe(2)
    await expect.poll(() => shown(page.locator('main'))).toContain('Northwind Traders')
    await shot('microsoft365-customers')
    await page.getByLabel('Onboard Contoso Ltd').check()
    await page.getByLabel('Organization for Contoso Ltd').selectOption({ label: 'Fabrikam' })
    await page.getByLabel('Onboard Northwind Traders').check()
    await page.getByRole('button', { name: 'Onboard chosen customers' }).click()
    await expect.poll(() => shown(page.getByRole('status').first())).toContain('Onboarding run finished')
    await expect.poll(() => shown(row(contoso.id).locator('.badge'))).toBe('verified')
    await expect
      .poll(() => row(contoso.id).getByRole('link', { name: 'organization' }).getAttribute('href'))
      .toBe(`/o/${t.orgB.id}/integrations`)
    await expect.poll(() => shown(row(northwind.id).locator('.badge'))).toBe('failed')
    expect(await shown(row(northwind.id).locator('.vendor-message'))).toBe(
      'Partner Center answered 403: 403: Permission denied. The partner has no active GDAP relationship with the Cloud Application Administrator or Application Administrator role for this customer.',
    )
    expect(await shown(row(northwind.id).locator('.fix'))).toMatch(
      /^Give the partner a GDAP relationship with this customer that includes the Cloud Application Administrator/,
    )
    const consent = new URL(
      (await row(northwind.id)
        .getByRole('link', { name: 'Consent link for Northwind Traders' })
        .getAttribute('href')) ?? '',
    )
    expect(consent.pathname).toBe(`/${northwind.id}/adminconsent`)
    expect(consent.origin).toBe(new URL(login.baseUrl).origin)
    expect(consent.searchParams.get('client_id')).toBe(APP)
    await shot('microsoft365-progress')
  })

  it('resumes after the fix: the failed customer is verified, the verified one is not redone', async () => {
    const consentsBefore = pc.consents.length
    northwindAtPc.gdapRoles.push('Cloud Application Administrator')
    await page.getByRole('button', { name: 'Resume / re-check' }).click()
    await expect.poll(() => shown(page.getByRole('status').first())).toContain('Resumed')
    await expect.poll(() => shown(row(northwind.id).locator('.badge'))).toBe('verified')
    expect(await row(northwind.id).locator('.vendor-message').count()).toBe(0)
    expect(pc.consents.length).toBe(consentsBefore + 1)
    expect(pc.consents.at(-1)?.customerId).toBe(northwind.id)
  })
})
