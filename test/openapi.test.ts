import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHarness, type Harness } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(() => h.close())

const UNDOCUMENTED = new Set(['/api/v1/openapi.json', '/api/v1/docs', '/api/v1/docs/reference.js'])
/** The console's HTML pages and assets (README "Console"): pages for people, built on the API, not part of it. */
const isConsole = (path: string) => path === '/' || /^\/(login|logout|assets|o)(\/|$)/.test(path)

interface MediaDoc {
  schema?: Record<string, unknown>
  example?: unknown
}
interface OperationDoc {
  requestBody?: { content?: Record<string, MediaDoc> }
  responses?: Record<string, { content?: Record<string, MediaDoc> }>
}

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

  it('renders it with a reference renderer Patchbay serves itself, from no CDN (issue 19, item 10)', async () => {
    const html = await (await h.request('GET', '/api/v1/docs', { token: null })).text()
    expect(html).toContain('<script id="api-reference" data-url="/api/v1/openapi.json"')
    const scripts = [...html.matchAll(/<script[^>]* src="([^"]+)"/g)].map((m) => m[1])
    expect(scripts).toEqual(['/api/v1/docs/reference.js'])
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)[^"' ]*\.(js|css)/)
    const js = await h.request('GET', '/api/v1/docs/reference.js', { token: null })
    expect(js.status).toBe(200)
    expect(js.headers.get('content-type')).toContain('javascript')
    const text = await js.text()
    expect(text.length).toBeGreaterThan(1_000_000)
    expect(text).toContain('api-reference')
  })

  it('gives every operation a response example, and a request example where it takes a body', async () => {
    const doc = (await (await h.request('GET', '/api/v1/openapi.json', { token: null })).json()) as {
      paths: Record<string, Record<string, OperationDoc>>
    }
    const check = h.conformance()
    const missing: string[] = []
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const name = `${method.toUpperCase()} ${path}`
        const body = op.requestBody?.content?.['application/json']
        if (body && body.example === undefined) missing.push(`${name} request`)
        // A request example is one the API accepts as far as the schema goes.
        const wrong = body?.schema && (await check).validate(body.schema, body.example)
        if (wrong) missing.push(`${name} request example: ${wrong}`)
        const ok = Object.entries(op.responses ?? {}).find(([s]) => s.startsWith('2'))?.[1]
        const res = ok?.content?.['application/json']
        if (res && res.example === undefined) missing.push(`${name} response`)
      }
    }
    expect(missing).toEqual([])
  })
})
