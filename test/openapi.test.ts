import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHarness, type Harness } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(() => h.close())

const UNDOCUMENTED = new Set(['/api/v1/openapi.json', '/api/v1/docs'])
/** The console's HTML pages and assets (README "Console"): pages for people, built on the API, not part of it. */
const isConsole = (path: string) => path === '/' || /^\/(login|logout|assets|o)(\/|$)/.test(path)

describe('OpenAPI document', () => {
  it('is OpenAPI 3.1, served without auth, and lists every route the app serves', async () => {
    const res = await h.request('GET', '/api/v1/openapi.json', { token: null })
    expect(res.status).toBe(200)
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> }
    expect(doc.openapi).toBe('3.1.0')

    const documented = new Set<string>()
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) documented.add(`${method.toUpperCase()} ${path}`)
    }
    const served = new Set<string>()
    for (const r of h.app.routes) {
      if (r.method === 'ALL' || UNDOCUMENTED.has(r.path) || isConsole(r.path)) continue
      served.add(`${r.method} ${r.path.replace(/:(\w+)/g, '{$1}').replace(/(.)\/$/, '$1')}`)
    }
    expect([...served].filter((r) => !documented.has(r))).toEqual([])
    expect([...documented].filter((r) => !served.has(r))).toEqual([])
    for (const route of [
      'POST /api/v1/partners',
      'GET /api/v1/orgs/{id}',
      'DELETE /api/v1/api-keys/{id}',
      'GET /api/v1/audit-logs',
      'GET /readyz',
    ]) {
      expect(documented).toContain(route)
    }
  })

  it('has a readable reference page', async () => {
    const res = await h.request('GET', '/api/v1/docs', { token: null })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/html')
    const html = await res.text()
    expect(html).toContain('<code>/api/v1/api-keys</code>')
    expect(html).toContain('Create an API key')
  })
})
