import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearer, type StandIn, startStandIn } from '../../../test/fixtures/stand-in.ts'
import { loopbackResolver } from '../../../test/harness.ts'
import { ManualClock } from '../../lib/clock.ts'
import { createLogger } from '../../lib/logger.ts'
import { AddressPolicy } from '../../net/address-policy.ts'
import { HttpClient } from '../../net/http-client.ts'
import type { ConnectorEnv } from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { genericTicketing } from './index.ts'

let vendor: StandIn
let env: ConnectorEnv
const KEY = 'tk_live_5b1e0c7d9a'

beforeAll(async () => {
  vendor = await startStandIn((req) => {
    if (req.method !== 'GET' || req.path !== '/api') return { status: 404, body: { message: 'Not found' } }
    if (!bearer(req)) return { status: 401, body: { message: 'Authentication required' } }
    if (bearer(req) !== KEY) return { status: 403, body: { errors: [{ message: 'Token revoked' }] } }
    return { status: 200, body: { name: 'Tickets', version: '3' } }
  })
  const clock = new ManualClock()
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

describe('generic ticketing endpoint', () => {
  it('verifies with an authenticated GET on the API URL', async () => {
    const apiUrl = vendor.url('tickets.test', '/api')
    await expect(genericTicketing.verify({ apiUrl, apiKey: KEY, projectKey: 'OPS' }, env)).resolves.toEqual({
      ok: true,
    })
    const req = vendor.requests.at(-1)
    expect(req).toMatchObject({ method: 'GET', path: '/api', body: '' })
    expect(req?.headers.authorization).toBe(`Bearer ${KEY}`)
    expect(req?.headers.accept).toBe('application/json')
  })

  it("surfaces the API's own error text when the key is refused", async () => {
    const apiUrl = vendor.url('tickets.test', '/api')
    const err = await genericTicketing
      .verify({ apiUrl, apiKey: 'tk_live_other' }, env)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(VendorError)
    expect(err).toMatchObject({ status: 403, message: 'Ticketing endpoint answered 403: Token revoked' })
    expect((err as VendorError).retryable).toBe(false)
  })

  it('reports an outage as retryable, with Retry-After', async () => {
    vendor.respond(() => ({
      status: 503,
      body: { message: 'Maintenance' },
      headers: { 'retry-after': '120' },
    }))
    const err = (await genericTicketing
      .verify({ apiUrl: vendor.url('tickets.test', '/api'), apiKey: KEY }, env)
      .catch((e: unknown) => e)) as VendorError
    expect(err).toMatchObject({
      status: 503,
      retryAfterMs: 120_000,
      message: 'Ticketing endpoint answered 503: Maintenance',
    })
    expect(err.retryable).toBe(true)
  })
})
