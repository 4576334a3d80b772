import { Writable } from 'node:stream'
import { inject } from 'vitest'
import { type Config, loadConfig } from '../src/config.ts'
import { type ConnectorRegistry, defaultRegistry } from '../src/connectors/registry.ts'
import type { AppContext } from '../src/context.ts'
import { DeliveryWorker } from '../src/delivery/worker.ts'
import { createApp } from '../src/http/app.ts'
import { ManualClock } from '../src/lib/clock.ts'
import { createLogger } from '../src/lib/logger.ts'
import { AddressPolicy } from '../src/net/address-policy.ts'
import { HttpClient, type Resolver } from '../src/net/http-client.ts'
import { createApiKey } from '../src/store/tenancy.ts'
import { generateKeyRing, type KeyRing } from '../src/vault/keyring.ts'
import { Vault } from '../src/vault/vault.ts'
import { transports, wire } from '../src/wiring.ts'
import { openTestDatabase, type TestDatabase } from './databases.ts'
import { ResponseConformance } from './response-conformance.ts'

export interface Harness {
  ctx: AppContext
  clock: ManualClock
  app: ReturnType<typeof createApp>
  /** Every log line written, for tests that check what reaches the logs. */
  logs: string[]
  database: TestDatabase
  /** A system-scope token. */
  systemToken: string
  /** The delivery worker, not running: tests call `worker.drain()` to attempt what is due by `clock`. */
  worker: DeliveryWorker
  /** Calls the API as a user would; `token` defaults to the system token. */
  request(
    method: string,
    path: string,
    opts?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely and assert on them
  json<T = any>(
    method: string,
    path: string,
    opts?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: T }>
  /** The app's OpenAPI document as a response checker (see test/response-conformance.ts). */
  conformance(): Promise<ResponseConformance>
  close(): Promise<void>
}

export interface HarnessOptions {
  env?: Record<string, string>
  ring?: KeyRing
  /**
   * DNS for outbound requests. Defaults to answering 127.0.0.1 for every `*.test` name (the loopback stand-ins),
   * and nothing else. Loopback is allowed through PATCHBAY_ALLOWED_TARGET_CIDRS unless `env` says otherwise.
   */
  resolver?: Resolver
  /** The connectors the app knows; defaults to the real registry. */
  connectors?: ConnectorRegistry
  /**
   * Validate every JSON response `json()` returns against the app's OpenAPI document and throw on a mismatch
   * (issue 19, item 10). On by default: every suite is a conformance test of the responses it reads. Set false
   * only in a suite that deliberately reads undocumented answers, with the reason beside it; running with
   * PATCHBAY_TEST_CHECK_RESPONSES=0 turns the default off (to tell a conformance failure from another one).
   */
  checkResponses?: boolean
}

export const loopbackResolver: Resolver = async (host) => (host.endsWith('.test') ? ['127.0.0.1'] : [])

export async function createHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const database = await openTestDatabase(inject('dbTemplate'))
  const config: Config = loadConfig({
    LOG_LEVEL: 'debug',
    DATA_DIR: '/nonexistent',
    PATCHBAY_ALLOWED_TARGET_CIDRS: '127.0.0.0/8',
    // The manual clock never leaves its first rate-limit window: tests that send many requests with one key
    // must not meet the default budget. Rate-limit tests set their own.
    PATCHBAY_RATE_LIMIT_INGEST: '100000000',
    PATCHBAY_RATE_LIMIT_CONFIG: '100000000',
    ...opts.env,
  })
  const logs: string[] = []
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk))
      cb()
    },
  })
  const clock = new ManualClock('2026-02-18T12:00:00.000Z')
  const ctx: AppContext = wire({
    config,
    db: database.db,
    vault: new Vault(opts.ring ?? generateKeyRing('test')),
    clock,
    log: createLogger(config.LOG_LEVEL, sink),
    http: new HttpClient({
      policy: AddressPolicy.fromSetting(config.PATCHBAY_ALLOWED_TARGET_CIDRS),
      resolver: opts.resolver ?? loopbackResolver,
      clock,
      dnsCacheMs: 0,
      defaultTimeoutMs: config.PATCHBAY_DELIVERY_TIMEOUT_MS,
    }),
    connectors: opts.connectors ?? defaultRegistry,
  })
  const app = createApp(ctx)
  const { token: systemToken } = await createApiKey(
    ctx.db.orm,
    { name: 'test system', scope: 'system' },
    clock.now(),
  )

  const request: Harness['request'] = (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers }
    const token = o.token === undefined ? systemToken : o.token
    if (token) headers.authorization = `Bearer ${token}`
    let body: string | undefined
    if (o.body !== undefined) {
      body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body)
      headers['content-type'] ??= 'application/json'
    }
    return Promise.resolve(app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) }))
  }
  let conformance: Promise<ResponseConformance> | undefined
  const getConformance = () => {
    conformance ??= Promise.resolve(app.request('/api/v1/openapi.json'))
      .then((r) => r.json())
      .then((doc) => new ResponseConformance(doc as ConstructorParameters<typeof ResponseConformance>[0]))
    return conformance
  }
  const checkResponses = opts.checkResponses ?? process.env.PATCHBAY_TEST_CHECK_RESPONSES !== '0'
  return {
    ctx,
    clock,
    app,
    logs,
    database,
    systemToken,
    worker: new DeliveryWorker(ctx, transports(ctx)),
    request,
    async json(method, path, o) {
      const res = await request(method, path, o)
      const text = await res.text()
      const body = text ? JSON.parse(text) : undefined
      if (checkResponses) {
        const problem = (await getConformance()).check(
          method,
          path,
          res.status,
          res.headers.get('content-type'),
          body,
        )
        if (problem) throw new Error(`response does not match the OpenAPI document: ${problem}`)
      }
      return { status: res.status, body }
    },
    conformance: getConformance,
    async close() {
      await ctx.http.close()
      await database.drop()
    },
  }
}

/** A partner, two of its organizations, an unrelated organization, and a token for each. */
export async function seedTenants(h: Harness) {
  const partner = (await h.json('POST', '/api/v1/partners', { body: { name: 'Acme MSP' } })).body
  const otherPartner = (await h.json('POST', '/api/v1/partners', { body: { name: 'Other MSP' } })).body
  const orgA = (await h.json('POST', '/api/v1/orgs', { body: { name: 'Contoso', partnerId: partner.id } }))
    .body
  const orgB = (await h.json('POST', '/api/v1/orgs', { body: { name: 'Fabrikam', partnerId: partner.id } }))
    .body
  const orgC = (
    await h.json('POST', '/api/v1/orgs', { body: { name: 'Initech', partnerId: otherPartner.id } })
  ).body
  const key = async (body: Record<string, unknown>) =>
    (await h.json('POST', '/api/v1/api-keys', { body })).body.token as string
  return {
    partner,
    otherPartner,
    orgA,
    orgB,
    orgC,
    partnerToken: await key({ name: 'partner', scope: 'partner', partnerId: partner.id }),
    otherPartnerToken: await key({ name: 'other partner', scope: 'partner', partnerId: otherPartner.id }),
    orgAToken: await key({ name: 'org a', scope: 'organization', orgId: orgA.id }),
    orgCToken: await key({ name: 'org c', scope: 'organization', orgId: orgC.id }),
  }
}
