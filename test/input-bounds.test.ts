/**
 * The input bounds (README, "Input bounds"), through the examples the issue reported as 500s, and the log line of
 * an error nobody foresaw: it names the error, never the request's values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHarness, type Harness, seedTenants } from './harness.ts'

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
beforeAll(async () => {
  h = await createHarness()
  t = await seedTenants(h)
})
afterAll(() => h.close())

const nested = (levels: number, leaf: unknown = 1): unknown => {
  let v = leaf
  for (let i = 0; i < levels; i++) v = { a: v }
  return v
}

async function total(path: string) {
  return (await h.json('GET', path)).body.pagination.total as number
}

describe('strings', () => {
  it('refuses NUL in a name, naming the field, and stores nothing', async () => {
    const before = await total('/api/v1/partners')
    const r = await h.json('POST', '/api/v1/partners', { body: { name: 'Acme\u0000MSP' } })
    expect(r.status).toBe(422)
    expect(r.body).toMatchObject({
      code: 'validation_failed',
      details: [{ path: 'name', message: 'must not contain NUL (\\u0000)' }],
    })
    expect(r.body.error).toContain('name: must not contain NUL')
    expect(await total('/api/v1/partners')).toBe(before)
  })

  it('refuses a lone surrogate, as written in JSON', async () => {
    const r = await h.json('POST', '/api/v1/orgs', {
      body: `{"name": "\\ud800", "partnerId": "${t.partner.id}"}`,
    })
    expect(r.status).toBe(422)
    expect(r.body.details).toEqual([{ path: 'name', message: 'must be valid Unicode (no lone surrogate)' }])
    // A surrogate pair is a character like any other.
    const ok = await h.json('POST', '/api/v1/orgs', {
      body: `{"name": "Rocket \\ud83d\\ude80", "partnerId": "${t.partner.id}"}`,
    })
    expect(ok.status).toBe(201)
    expect(ok.body.name).toBe('Rocket 🚀')
  })

  it('checks free-form event data: values, nested keys, string length and array length', async () => {
    const send = (data: unknown) =>
      h.json('POST', '/api/v1/events', { token: t.orgAToken, body: { type: 'alert.triggered', data } })
    const cases: [unknown, string, string][] = [
      [{ host: { name: 'a\u0000b' } }, 'data.host.name', 'must not contain NUL (\\u0000)'],
      [{ host: { 'na\u0000me': 'x' } }, 'data.host.na\\u0000me', 'key must not contain NUL (\\u0000)'],
      [{ list: ['ok', '\udc00'] }, 'data.list.1', 'must be valid Unicode (no lone surrogate)'],
      [{ text: 'x'.repeat(262_145) }, 'data.text', 'longer than 262144 characters'],
      [{ list: Array.from({ length: 1001 }, () => 0) }, 'data.list', 'more than 1000 items'],
    ]
    for (const [data, path, message] of cases) {
      const r = await send(data)
      expect(r.status, path).toBe(422)
      expect(r.body.details, path).toEqual([{ path, message }])
    }
    const atLimit = await send({ text: 'x'.repeat(262_144), list: Array.from({ length: 1000 }, () => 0) })
    expect(atLimit.status).toBe(202)
  })

  it('refuses NUL in a query value, naming the parameter', async () => {
    const r = await h.json('GET', '/api/v1/audit-logs?action=partner.create%00x')
    expect(r.status).toBe(422)
    expect(r.body.details).toEqual([{ path: 'action', message: 'must not contain NUL (\\u0000)' }])
    // A SynthesQ route answers in its own 422 shape, as it does for its own validation.
    const list = await h.json('GET', `/api/v1/routing-rules?capability=%00&orgId=${t.orgA.id}`)
    expect(list).toEqual({
      status: 422,
      body: {
        success: false,
        message: 'The given data was invalid.',
        errors: { capability: ['must not contain NUL (\\u0000)'] },
      },
    })
    const create = await h.json('POST', '/api/v1/integrations', {
      token: t.orgAToken,
      body: {
        provider: 'generic-ticketing',
        metadata: { 'k\u0000': 1 },
        credentials: {},
        enabled_capabilities: [],
      },
    })
    expect(create.status).toBe(422)
    expect(create.body.errors).toEqual({ 'metadata.k\\u0000': ['key must not contain NUL (\\u0000)'] })
  })
})

describe('dates', () => {
  it('refuses year 0000 in an event timestamp', async () => {
    const r = await h.json('POST', '/api/v1/events', {
      token: t.orgAToken,
      body: { type: 'alert.triggered', timestamp: '0000-01-01T00:00:00Z' },
    })
    expect(r.status).toBe(422)
    expect(r.body.details).toEqual([{ path: 'timestamp', message: 'year must be between 1970 and 9999' }])
    expect(r.body.error).toContain('timestamp: year must be between 1970 and 9999')
  })

  it('refuses dates outside 1970–9999 in from/to filters and recovery bounds, and takes the edges', async () => {
    for (const path of ['/api/v1/audit-logs', '/api/v1/deliveries']) {
      for (const param of ['from', 'to']) {
        for (const bad of ['0000-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '9999-12-31T23:00:00-05:00']) {
          const r = await h.json('GET', `${path}?${param}=${encodeURIComponent(bad)}`)
          expect(r.status, `${path} ${param}=${bad}`).toBe(422)
          expect(r.body.details).toEqual([{ path: param, message: 'year must be between 1970 and 9999' }])
        }
        for (const edge of ['1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z']) {
          const r = await h.json('GET', `${path}?${param}=${encodeURIComponent(edge)}`)
          expect(r.status, `${path} ${param}=${edge}`).toBe(200)
        }
      }
    }
    const retry = await h.json('POST', '/api/v1/deliveries/retry', {
      body: { orgId: t.orgA.id, since: '0000-01-01T00:00:00Z' },
    })
    expect(retry.status).toBe(422)
    expect(retry.body.details).toEqual([{ path: 'since', message: 'year must be between 1970 and 9999' }])
  })
})

describe('nesting', () => {
  it('refuses JSON nested 5,000 levels deep with 422, naming the field', async () => {
    const deep = `{"type":"alert.triggered","data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`
    const r = await h.json('POST', '/api/v1/events', { token: t.orgAToken, body: deep })
    expect(r.status).toBe(422)
    expect(r.body.details).toEqual([{ path: 'data', message: 'nested deeper than 64 levels' }])
    expect(r.body.error).toContain('data: nested deeper than 64 levels')

    const batch = `{"events":[{"type":"alert.triggered"},{"type":"alert.triggered","data":${'['.repeat(5000)}${']'.repeat(5000)}}]}`
    const b = await h.json('POST', '/api/v1/events/batch', { token: t.orgAToken, body: batch })
    expect(b.status).toBe(422)
    expect(b.body.details).toEqual([{ path: 'events.1.data', message: 'nested deeper than 64 levels' }])

    const bare = await h.json('POST', '/api/v1/partners', { body: '['.repeat(100_000) })
    expect(bare.status).toBe(422)
    expect(bare.body.details).toEqual([{ path: '(body)', message: 'nested deeper than 64 levels' }])
  })

  it('takes 64 levels and refuses 65, counting the body as level 1; brackets inside strings do not count', async () => {
    const send = (data: unknown) =>
      h.json('POST', '/api/v1/events', { token: t.orgAToken, body: { type: 'alert.triggered', data } })
    // The body is level 1 and `data` level 2, so `data` may hold 63 levels.
    expect((await send(nested(63))).status).toBe(202)
    const over = await send(nested(64))
    expect(over.status).toBe(422)
    expect(over.body.details).toEqual([{ path: 'data', message: 'nested deeper than 64 levels' }])
    expect((await send({ text: '{['.repeat(200), quote: '"\\"[[[[' })).status).toBe(202)
  })
})

describe('errors', () => {
  it('logs an unforeseen database error by class, message and request id, without the request values', async () => {
    // A constraint the API does not know about: the insert fails in the database, with the row's values in
    // the driver error's detail and in drizzle's message, as the issue saw for a custom header's secret.
    await h.ctx.db.query(
      `ALTER TABLE webhooks ADD CONSTRAINT webhook_name_check CHECK (name <> 'kaboom-name')`,
    )
    try {
      const secret = 'Bearer hdr-SECRET-9f3k2'
      const res = await h.request('POST', '/api/v1/webhooks', {
        token: t.orgAToken,
        headers: { 'x-request-id': 'req-log-1' },
        body: {
          name: 'kaboom-name',
          url: 'https://hooks.example.test/in?sig=QUERY-VALUE-77',
          events: ['alert.triggered'],
          secret: 'signing-SECRET-5521',
          headers: [{ key: 'Authorization', value: secret }],
        },
      })
      expect(res.status).toBe(500)
      expect(await res.json()).toEqual({ error: 'Internal server error', code: 'internal' })

      const lines = h.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'unhandled error')
      expect(lines).toHaveLength(1)
      const line = lines[0]
      expect(line.requestId).toBe('req-log-1')
      expect(line.err.type).toBe('DrizzleQueryError')
      expect(line.err.message).toMatch(/^Failed query: insert into "webhooks"/)
      expect(line.err.cause).toMatchObject({ code: '23514', constraint: 'webhook_name_check' })
      const all = h.logs.join('\n')
      for (const value of [
        'hdr-SECRET-9f3k2',
        'QUERY-VALUE-77',
        'signing-SECRET-5521',
        'kaboom-name',
        'params:',
      ]) {
        expect(all).not.toContain(value)
      }
      expect(JSON.stringify(line)).not.toMatch(/detail|"where"|"params"/)
    } finally {
      await h.ctx.db.query('ALTER TABLE webhooks DROP CONSTRAINT webhook_name_check')
    }
  })

  it('answers 422, not 500, when the database refuses a value that got past validation', async () => {
    // The backstop behind the bounds: a column narrower than the API's own schema says.
    await h.ctx.db.query('ALTER TABLE partners ALTER COLUMN name TYPE varchar(12)')
    try {
      const before = h.logs.length
      const r = await h.json('POST', '/api/v1/partners', { body: { name: 'much-too-long-name' } })
      expect(r).toEqual({
        status: 422,
        body: {
          error: 'A value in the request cannot be stored (invalid text, number or date)',
          code: 'invalid_input',
        },
      })
      const logged = h.logs.slice(before).join('\n')
      expect(logged).toContain('database refused a request value')
      expect(logged).toContain('22001')
      expect(logged).not.toContain('much-too-long-name')
    } finally {
      await h.ctx.db.query('ALTER TABLE partners ALTER COLUMN name TYPE text')
    }
  })

  it('answers the SynthesQ routes’ 422 shape for the same refusal', async () => {
    await h.ctx.db.query('ALTER TABLE integrations ALTER COLUMN name TYPE varchar(12)')
    try {
      const r = await h.json('POST', '/api/v1/integrations', {
        token: t.orgAToken,
        body: {
          provider: 'generic-ticketing',
          name: 'much-too-long-name',
          credentials: { apiUrl: 'https://tickets.example.test/api', apiKey: 'tk_bounds_123456' },
          enabled_capabilities: ['create_ticket'],
        },
      })
      expect(r).toEqual({
        status: 422,
        body: {
          success: false,
          message: 'A value in the request cannot be stored (invalid text, number or date)',
          code: 'invalid_input',
        },
      })
    } finally {
      await h.ctx.db.query('ALTER TABLE integrations ALTER COLUMN name TYPE text')
    }
  })
})
