import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { credentialParser, defineConnector, missingCredential } from '../src/connectors/define.ts'
import { createRegistry, defaultRegistry } from '../src/connectors/registry.ts'
import type { Connector } from '../src/connectors/types.ts'
import { callVendor, sensitiveValues } from '../src/connectors/vendor-http.ts'
import { JobService } from '../src/jobs/service.ts'
import { rows } from '../src/store/db.ts'
import type { CredentialSchema } from '../src/vault/mask.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { bearer, type StandIn, startStandIn } from './fixtures/stand-in.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'

/** A chat-style provider whose secret is a URL (the path is the token), like Slack or Discord webhooks. */
const chatSchema: CredentialSchema = {
  webhookUrl: { type: 'url', sensitive: true, required: true },
  channel: { type: 'string', sensitive: false, required: false },
}
const chat: Connector = defineConnector(credentialParser(chatSchema, missingCredential('ChatLike')), {
  descriptor: {
    id: 'chatlike',
    displayName: 'ChatLike',
    category: 'communication',
    capabilities: ['send_message'],
    credentialSchema: chatSchema,
  },
  async verify(credentials, env) {
    await callVendor(env, {
      vendor: 'ChatLike',
      method: 'POST',
      url: String(credentials.webhookUrl),
      body: { text: 'Patchbay connection test' },
      secrets: sensitiveValues(chatSchema, credentials),
    })
    return { ok: true }
  },
})

const GOOD_KEY = 'tk_LEAKCHECK_good_a1b2c3d4e5'
const ROTATED_KEY = 'tk_LEAKCHECK_rotated_f6g7h8'
const BAD_KEY = 'tk_LEAKCHECK_bad_i9j0k1l2'
const HOOK_TOKEN = 'LEAKCHECKhookTokenXyZ123456'
const BAD_HOOK_TOKEN = 'LEAKCHECKbadHookToken987654'
const SECRETS = [GOOD_KEY, ROTATED_KEY, BAD_KEY, HOOK_TOKEN, BAD_HOOK_TOKEN]

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
let vendor: StandIn
/** Every response body the API sent in this file. */
const responses: string[] = []
const validKeys = new Set([GOOD_KEY, ROTATED_KEY])
let hooksUp = true

beforeAll(async () => {
  h = await createHarness({
    env: { PATCHBAY_PROBE_INTERVAL_MS: String(5 * 60_000), PATCHBAY_PROBE_FAILURE_THRESHOLD: '1' },
    connectors: createRegistry([...defaultRegistry.all(), chat]),
  })
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
  // A careless vendor: its errors echo whatever credential it was given.
  vendor = await startStandIn((req) => {
    if (req.path.startsWith('/services/')) {
      return hooksUp && req.path === `/services/T01/B02/${HOOK_TOKEN}`
        ? { status: 200, body: 'ok' }
        : { status: 404, body: { error: `no_service for ${req.path}` } }
    }
    const key = bearer(req) ?? ''
    return validKeys.has(key)
      ? { status: 200, body: { ok: true } }
      : {
          status: 401,
          body: { message: `Invalid token "${key}" (Authorization: ${req.headers.authorization})` },
        }
  })
})
afterAll(async () => {
  await vendor.close()
  await h.close()
})

async function call(method: string, path: string, opts: { token?: string; body?: unknown } = {}) {
  const r = await h.json(method, path, opts)
  responses.push(JSON.stringify(r.body))
  return r
}

describe('credentials never leave the vault', () => {
  it('through any response, log line, audit entry, job, probe record or error', async () => {
    const I = '/api/v1/integrations'
    const token = t.orgAToken
    const tickets = (apiKey: string) => ({
      provider: 'generic-ticketing',
      credentials: { apiUrl: vendor.url('tickets.test', '/api'), apiKey, projectKey: 'OPS' },
      enabled_capabilities: ['create_ticket'],
    })
    const hook = (t: string) => ({
      provider: 'chatlike',
      credentials: { webhookUrl: vendor.url('hooks.test', `/services/T01/B02/${t}`), channel: '#alerts' },
      enabled_capabilities: ['send_message'],
    })

    // Unsaved tests, good and bad.
    const unsaved = ({
      provider,
      credentials,
    }: {
      provider: string
      credentials: Record<string, unknown>
    }) => ({
      provider,
      credentials,
    })
    expect((await call('POST', `${I}/test`, { token, body: unsaved(tickets(GOOD_KEY)) })).body.success).toBe(
      true,
    )
    const refused = await call('POST', `${I}/test`, { token, body: unsaved(tickets(BAD_KEY)) })
    expect(refused.body.message).toBe(
      'Ticketing endpoint answered 401: Invalid token "[redacted]" (Authorization: Bearer [redacted])',
    )
    const badHook = await call('POST', `${I}/test`, { token, body: unsaved(hook(BAD_HOOK_TOKEN)) })
    expect(badHook.body.message).toBe('ChatLike answered 404: no_service for [redacted]')

    // Configure, verify, rotate, fail, recover.
    const ticket = (await call('POST', I, { token, body: tickets(GOOD_KEY) })).body.data
    const chatty = (await call('POST', I, { token, body: hook(HOOK_TOKEN) })).body.data
    const broken = (await call('POST', I, { token, body: { ...hook(BAD_HOOK_TOKEN), name: 'broken' } })).body
      .data
    await jobs.runDue()
    await call('PATCH', `${I}/${ticket.id}`, { token, body: { credentials: { apiKey: ROTATED_KEY } } })
    await jobs.runDue()
    await call('PATCH', `${I}/${ticket.id}`, { token, body: { credentials: { apiKey: BAD_KEY } } })
    await jobs.runDue()
    expect((await call('GET', `${I}/${ticket.id}`, { token })).body.data.status).toBe('error')
    expect((await call('GET', `${I}/${broken.id}`, { token })).body.data.metadata.last_error).toBe(
      'ChatLike answered 404: no_service for [redacted]',
    )
    await call('PATCH', `${I}/${ticket.id}`, { token, body: { credentials: { apiKey: ROTATED_KEY } } })
    await jobs.runDue()

    // Probes that fail while the vendor echoes the URL.
    hooksUp = false
    for (let i = 0; i < 12; i++) {
      h.clock.advance(60_000)
      await jobs.runDue()
    }
    hooksUp = true
    for (let i = 0; i < 6; i++) {
      h.clock.advance(60_000)
      await jobs.runDue()
    }

    // Rules, evaluation, status, lists, audit, deletion.
    await call('POST', '/api/v1/routing-rules', {
      token,
      body: { capability: 'send_message', integration_id: chatty.id, is_default: true },
    })
    await call('POST', '/api/v1/routing-rules/evaluate', { token, body: { capability: 'send_message' } })
    const status = await call('GET', `${I}/status`, { token })
    expect(
      status.body.data.integrations.some((i: { history: { ok: boolean }[] }) => i.history.some((p) => !p.ok)),
    ).toBe(true)
    await call('GET', I, { token })
    await call('GET', `${I}/providers`, { token })
    await call('GET', `${I}/${chatty.id}`, { token })
    const audit = await call('GET', `/api/v1/audit-logs?orgId=${t.orgA.id}&limit=100`)
    expect(audit.body.data.length).toBeGreaterThan(10)
    await call('DELETE', `${I}/${broken.id}`, { token })

    // Everything Patchbay wrote outside the vault.
    const dump = await rows<{ text: string }>(
      h.ctx.db.orm,
      sql`SELECT concat_ws(' ',
            (SELECT json_agg(a)::text FROM audit_logs a),
            (SELECT json_agg(j)::text FROM jobs j),
            (SELECT json_agg(p)::text FROM integration_probes p),
            (SELECT json_agg(json_build_object('public', i.credentials_public, 'settings', i.settings,
              'metadata', i.metadata, 'error', i.last_error)) FROM integrations i),
            (SELECT json_agg(r)::text FROM routing_rules r)) AS text`,
    )
    const places: [string, string][] = [
      ['responses', responses.join('\n')],
      ['logs', h.logs.join('')],
      ['database', dump[0]?.text ?? ''],
    ]
    expect(h.logs.length).toBeGreaterThan(50)
    for (const [where, text] of places) {
      for (const secret of SECRETS) {
        expect(text.includes(secret), `${secret} found in ${where}`).toBe(false)
        expect(text.includes(encodeURIComponent(secret)), `${secret} (URL-encoded) found in ${where}`).toBe(
          false,
        )
      }
    }
    // The vendor did receive them: the checks above are not vacuous.
    const sent = vendor.requests.map((r) => `${r.path} ${r.headers.authorization ?? ''}`).join('\n')
    for (const secret of SECRETS) expect(sent).toContain(secret)
  })
})
