/**
 * The API reference page in a real Chromium (Debian's package): Scalar's renderer, served by Patchbay from
 * node_modules, draws the document with its descriptions and examples, and the page asks nothing of any other host
 * (an air-gapped install shows the same page). Issue 19, item 10.
 */
import type { AddressInfo } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHarness, type Harness } from './harness.ts'

const CHROMIUM = process.env.PATCHBAY_CHROMIUM ?? '/usr/bin/chromium'

let h: Harness
let server: ServerType
let base: string
let browser: Browser

beforeAll(async () => {
  h = await createHarness()
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
})
afterAll(async () => {
  await browser?.close()
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  await h?.close()
})

describe('API reference page', () => {
  it('renders the document with Scalar from Patchbay itself, asking no other host', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage()
    const elsewhere: string[] = []
    // Anything not for Patchbay is refused and remembered: the page must not need it.
    await page.route('**/*', (route) => {
      const url = route.request().url()
      if (url.startsWith(base) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue()
      elsewhere.push(url)
      return route.abort()
    })
    const errors: string[] = []
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
    page.on('pageerror', (e) => errors.push(String(e)))
    await page.goto(`${base}/api/v1/docs`)
    // Drawn by the renderer (the plain fallback is only for browsers without scripts): the document's
    // description, operations by summary, and a response example made from the document.
    await page
      .getByText('Multi-tenant integration hub', { exact: false })
      .first()
      .waitFor({ timeout: 30_000 })
    await page.getByText('Readiness').first().waitFor({ timeout: 10_000 })
    expect(await page.locator('[class*="scalar"]').count()).toBeGreaterThan(0)
    expect(await page.locator('noscript').count()).toBe(1)
    expect(elsewhere).toEqual([])
    expect(errors).toEqual([])
  }, 60_000)
})
