import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connector } from '../src/connectors/registry.ts'
import { JobService } from '../src/jobs/service.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { startDiscordStandin } from './standins/discord.ts'
import { PSA_STANDINS, type PsaStandIn } from './standins/index.ts'
import { startSlackStandin } from './standins/slack.ts'
import { startTeamsStandin } from './standins/teams.ts'

/**
 * Every real connector through the same SynthesQ routes: nothing in the integration model knows a vendor, so
 * configuring, verifying and refusing credentials must work for each one as it does for the generic ones.
 */
let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
const closers: (() => Promise<void>)[] = []

beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_PROBE_INTERVAL_MS: '0' } })
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
})
afterAll(async () => {
  for (const close of closers) await close()
  await h.close()
})

const API = '/api/v1/integrations'

async function configure(provider: string, credentials: Record<string, unknown>) {
  const capabilities = connector(provider)?.descriptor.capabilities ?? []
  const r = await h.json('POST', API, {
    token: t.orgAToken,
    body: { provider, credentials, enabled_capabilities: [...capabilities] },
  })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  expect(r.body.data.status).toBe('pending_verify')
  await jobs.runDue()
  return (await h.json('GET', `${API}/${r.body.data.id}`, { token: t.orgAToken })).body.data
}

async function breakCredential(id: string, field: string, value: string) {
  const r = await h.json('PATCH', `${API}/${id}`, {
    token: t.orgAToken,
    body: { credentials: { [field]: value } },
  })
  expect(r.body.data.status).toBe('pending_verify')
  await jobs.runDue()
  return (await h.json('GET', `${API}/${id}`, { token: t.orgAToken })).body.data
}

describe('providers', () => {
  it('lists every registered connector, each vendor with a baseUrl override', async () => {
    const r = await h.json('GET', `${API}/providers`, { token: t.orgAToken })
    const names = r.body.data.map((p: { name: string }) => p.name).sort()
    expect(names).toEqual(
      [
        'autotask',
        'connectwise',
        'datto-edr',
        'datto-rmm',
        'discord',
        'freshservice',
        'generic-monitoring',
        'generic-ticketing',
        'itglue',
        'jira',
        'pax8',
        'microsoft365',
        'servicenow',
        'slack',
        'teams',
        'unifi',
        'zendesk',
      ].sort(),
    )
    for (const p of r.body.data) {
      if (!p.name.startsWith('generic-'))
        expect(p.credential_schema.baseUrl, p.name).toMatchObject({ required: false })
      expect(Object.values(p.credential_schema).some((f) => (f as { sensitive: boolean }).sensitive)).toBe(
        true,
      )
    }
  })
})

describe.each(Object.keys(PSA_STANDINS))('%s', (provider) => {
  let s: PsaStandIn
  beforeAll(async () => {
    s = await (PSA_STANDINS[provider] as (o: { clock: typeof h.clock }) => PsaStandIn)({
      clock: h.clock,
    }).start()
    closers.push(() => s.close())
  })

  it('is verified with its stand-in, and a wrong secret ends in error with the vendor’s message', async () => {
    const ok = await configure(provider, s.credentials)
    expect(ok.status).toBe('active')
    expect(s.requests.length).toBeGreaterThan(0)
    const schema = connector(provider)?.descriptor.credentialSchema ?? {}
    const [secretField] = Object.entries(schema).find(([, f]) => f.sensitive) ?? []
    for (const [name, f] of Object.entries(schema)) {
      expect(ok.credentials[name], name).toBe(f.sensitive ? null : (s.credentials[name] ?? f.default ?? null))
    }
    const wrong = 'wrong-secret-value-0000'
    const failed = await breakCredential(ok.id, secretField as string, wrong)
    expect(failed.status).toBe('error')
    expect(failed.metadata.last_error).toEqual(expect.any(String))
    expect(failed.metadata.last_error.length).toBeGreaterThan(5)
    expect(JSON.stringify(failed)).not.toContain(wrong)
  })
})

describe('chat connectors', () => {
  it.each([
    ['slack', startSlackStandin, (c: { credentials: () => Record<string, string> }) => c.credentials()],
    ['discord', startDiscordStandin, (c: { credentials: () => Record<string, string> }) => c.credentials()],
    [
      'teams',
      startTeamsStandin,
      (c: { credentials: (k: 'workflow') => Record<string, string> }) => c.credentials('workflow'),
    ],
  ] as const)(
    '%s is verified with its stand-in, and a mistyped webhook URL ends in error',
    async (provider, start, creds) => {
      const standin = await start()
      closers.push(() => standin.close())
      const credentials = (creds as (c: unknown) => Record<string, string>)(standin)
      const ok = await configure(provider, credentials)
      expect(ok).toMatchObject({
        status: 'active',
        credentials: { webhookUrl: null, baseUrl: credentials.baseUrl },
      })
      const url = new URL(credentials.webhookUrl as string)
      url.pathname = url.pathname.replace(/.{6}$/, 'ZZZZZZ')
      const failed = await breakCredential(ok.id, 'webhookUrl', url.toString())
      expect(failed.status).toBe('error')
      expect(failed.metadata.last_error).toEqual(expect.any(String))
      expect(failed.metadata.last_error).not.toContain('ZZZZZZ')
    },
  )
})
