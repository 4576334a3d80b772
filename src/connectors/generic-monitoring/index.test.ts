import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearer, type StandIn, startStandIn } from '../../../test/fixtures/stand-in.ts'
import { loopbackResolver } from '../../../test/harness.ts'
import { ManualClock } from '../../lib/clock.ts'
import { createLogger } from '../../lib/logger.ts'
import { AddressPolicy } from '../../net/address-policy.ts'
import { HttpClient } from '../../net/http-client.ts'
import type { ConnectorEnv } from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { genericMonitoring } from './index.ts'

let vendor: StandIn
let env: ConnectorEnv
const KEY = 'mon_live_7f3a9c2e41d8'

beforeAll(async () => {
  vendor = await startStandIn((req) => {
    if (req.path !== '/v1/ingest' || req.method !== 'POST')
      return { status: 404, body: { error: 'no such route' } }
    if (req.headers.authorization !== undefined && bearer(req) !== KEY) {
      return { status: 401, body: { error: `API key ${bearer(req)} is not valid for this workspace` } }
    }
    return { status: 202, body: { accepted: 1 } }
  })
  const clock = new ManualClock('2026-02-18T12:00:00.000Z')
  env = {
    clock,
    log: createLogger('silent'),
    http: new HttpClient({
      policy: AddressPolicy.fromSetting('127.0.0.0/8'),
      resolver: loopbackResolver,
      clock,
    }),
  }
})
afterAll(async () => {
  await env.http.close()
  await vendor.close()
})

describe('generic monitoring endpoint', () => {
  it('verifies by POSTing a test event with the API key as a bearer token', async () => {
    const endpoint = vendor.url('monitor.test', '/v1/ingest')
    await expect(genericMonitoring.verify({ endpoint, apiKey: KEY }, env)).resolves.toEqual({ ok: true })
    const req = vendor.requests.at(-1)
    expect(req).toMatchObject({ method: 'POST', path: '/v1/ingest' })
    expect(req?.headers.authorization).toBe(`Bearer ${KEY}`)
    expect(req?.headers['content-type']).toBe('application/json')
    expect(req?.json).toEqual({
      type: 'patchbay.test',
      source: 'patchbay',
      timestamp: '2026-02-18T12:00:00.000Z',
      data: {},
    })
  })

  it('sends no authorization header without an API key, and probes with a heartbeat event', async () => {
    const endpoint = vendor.url('monitor.test', '/v1/ingest')
    await expect(genericMonitoring.probe?.({ endpoint }, env)).resolves.toEqual({ ok: true })
    const req = vendor.requests.at(-1)
    expect(req?.headers.authorization).toBeUndefined()
    expect(req?.json).toMatchObject({ type: 'patchbay.heartbeat' })
  })

  it("fails on anything but 2xx with the endpoint's own message, the key scrubbed out", async () => {
    const endpoint = vendor.url('monitor.test', '/v1/ingest')
    const wrong = 'mon_live_wrongwrongwrong'
    const err = await genericMonitoring.verify({ endpoint, apiKey: wrong }, env).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(VendorError)
    expect((err as VendorError).status).toBe(401)
    expect((err as VendorError).message).toBe(
      'Monitoring endpoint answered 401: API key [redacted] is not valid for this workspace',
    )
    const missing = await genericMonitoring
      .verify({ endpoint: vendor.url('monitor.test', '/v2/nope') }, env)
      .catch((e: unknown) => e)
    expect((missing as VendorError).message).toBe('Monitoring endpoint answered 404: no such route')
  })

  it('treats a redirect as a failure and does not follow it', async () => {
    vendor.respond(() => ({ status: 302, headers: { location: 'http://169.254.169.254/' } }))
    const before = vendor.requests.length
    const err = await genericMonitoring
      .verify({ endpoint: vendor.url('monitor.test', '/v1/ingest') }, env)
      .catch((e: unknown) => e)
    expect((err as VendorError).status).toBe(302)
    expect(vendor.requests.length).toBe(before + 1)
  })
})
