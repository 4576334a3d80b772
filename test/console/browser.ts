import fs from 'node:fs'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ServerType, serve } from '@hono/node-server'
import { chromium, type Page } from 'playwright-core'

/**
 * What every console browser test needs: the app served on a loopback port, one real Chromium (Debian's package,
 * `PATCHBAY_CHROMIUM` to point elsewhere) with a page on it, and screenshots for `npm run screenshots`.
 */
const CHROMIUM = process.env.PATCHBAY_CHROMIUM ?? '/usr/bin/chromium'
const SHOTS = process.env.SCREENSHOTS === '1'
const DOCS = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../docs')

export interface ConsoleBrowser {
  base: string
  page: Page
  close(): Promise<void>
}

export async function openConsole(
  fetch: (req: Request) => Response | Promise<Response>,
): Promise<ConsoleBrowser> {
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  const page = await (
    await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 800 } })
  ).newPage()
  return {
    base,
    page,
    async close() {
      await browser.close()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** With SCREENSHOTS=1: docs/console-<name>-<light|dark>.png of the page as it is now. */
export async function shot(page: Page, name: string) {
  if (!SHOTS) return
  fs.mkdirSync(DOCS, { recursive: true })
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme })
    await page.screenshot({ path: path.join(DOCS, `console-${name}-${scheme}.png`), fullPage: true })
  }
  await page.emulateMedia({ colorScheme: 'light' })
}
