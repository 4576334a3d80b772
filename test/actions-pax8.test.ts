import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JobService } from '../src/jobs/service.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { Pax8StandIn } from './standins/pax8.ts'

/**
 * Pax8 actions (all need approval) against the stand-in: an order previewed with isMock=true (Pax8's validation
 * shown to the approver, nothing ordered), placed once after approval; quantity change and cancellation sent as
 * Pax8 documents them; Pax8's 422 fails the action with its words.
 */
let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let pax8: Pax8StandIn
let integrationId: string
let approverKey: string

beforeAll(async () => {
  pax8 = await new Pax8StandIn().start()
  h = await createHarness({ env: { PATCHBAY_PROBE_INTERVAL_MS: '0' } })
  t = await seedTenants(h)
  approverKey = (
    await h.json('POST', '/api/v1/api-keys', {
      body: { name: 'approver', scope: 'organization', orgId: t.orgA.id },
    })
  ).body.token
  const r = await h.json('POST', '/api/v1/integrations', {
    token: t.orgAToken,
    body: { provider: 'pax8', credentials: pax8.credentials, enabled_capabilities: ['read_resources'] },
  })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  integrationId = r.body.data.id
  await new JobService(h.ctx, WIRED_JOBS).runDue()
})
afterAll(async () => {
  await h.close()
  await pax8.close()
})

const act = (action: string, input: unknown) =>
  h.json('POST', `/api/v1/integrations/${integrationId}/actions`, {
    token: t.orgAToken,
    body: { action, input },
  })
const approve = (id: string) => h.json('POST', `/api/v1/actions/${id}/approve`, { token: approverKey })
const get = async (id: string) => (await h.json('GET', `/api/v1/actions/${id}`, { token: t.orgAToken })).body
const orderPosts = () => pax8.requests.filter((q) => q.method === 'POST' && q.path === '/v1/orders')

describe('Pax8 actions', () => {
  it('previews an order with isMock=true, and places it once after approval', async () => {
    const company = pax8.raw.companies[0]?.id as string
    const product = pax8.raw.products[2]?.id as string
    const ordersBefore = pax8.raw.orders.length
    const r = await act('place_order', {
      companyId: company,
      lineItems: [{ productId: product, quantity: 3, billingTerm: 'Monthly' }],
    })
    expect(r.status).toBe(202)
    expect(r.body.status).toBe('pending_approval')
    expect(r.body.preview.ok).toBe(true)
    expect(r.body.preview.vendor).toMatchObject({
      companyId: company,
      lineItems: [{ productId: product, quantity: 3 }],
    })
    expect(orderPosts()).toHaveLength(1)
    expect(orderPosts()[0]?.query.get('isMock')).toBe('true')
    expect(pax8.raw.orders.length).toBe(ordersBefore)

    await h.worker.drain()
    expect(orderPosts()).toHaveLength(1)
    expect((await approve(r.body.id)).status).toBe(202)
    await h.worker.drain()
    const placed = orderPosts().slice(1)
    expect(placed).toHaveLength(1)
    expect(placed[0]?.query.get('isMock')).toBeNull()
    expect(placed[0]?.body).toEqual({
      companyId: company,
      orderedBy: 'Pax8 Partner',
      lineItems: [{ productId: product, quantity: 3, billingTerm: 'Monthly', lineItemNumber: 1 }],
    })
    expect(pax8.raw.orders.length).toBe(ordersBefore + 1)
    const done = await get(r.body.id)
    expect(done.status).toBe('completed')
    expect(done.result.vendorRef).toBe(pax8.raw.orders.at(-1)?.id)
  })

  it('shows Pax8’s refusal of the dry run to the approver', async () => {
    const inactive = pax8.raw.companies[4]?.id as string
    const r = await act('place_order', {
      companyId: inactive,
      lineItems: [{ productId: pax8.raw.products[0]?.id, quantity: 1, billingTerm: 'Annual' }],
    })
    expect(r.status).toBe(202)
    expect(r.body.preview.ok).toBe(false)
    expect(r.body.preview.status).toBe(422)
    expect(r.body.preview.error).toContain('Company Customer 5 is not active')
  })

  it('changes a quantity and cancels a subscription, as Pax8 documents them', async () => {
    const sub = pax8.raw.subscriptions[0] as { id: string; quantity: number; status: string }
    const q = await act('change_subscription_quantity', { subscriptionId: sub.id, quantity: 12 })
    expect((await approve(q.body.id)).status).toBe(202)
    await h.worker.drain()
    const put = pax8.requests.find((x) => x.method === 'PUT')
    expect(put?.path).toBe(`/v1/subscriptions/${sub.id}`)
    expect(put?.body).toEqual({ quantity: 12 })
    expect(sub.quantity).toBe(12)
    expect((await get(q.body.id)).status).toBe('completed')

    const c = await act('cancel_subscription', { subscriptionId: sub.id })
    expect((await approve(c.body.id)).status).toBe(202)
    await h.worker.drain()
    expect(pax8.requests.find((x) => x.method === 'DELETE')?.path).toBe(`/v1/subscriptions/${sub.id}`)
    expect(sub.status).toBe('Cancelled')
    expect((await get(c.body.id)).status).toBe('completed')

    // Pax8 refuses to change a cancelled subscription: failed with its words, no retries.
    const again = await act('change_subscription_quantity', { subscriptionId: sub.id, quantity: 2 })
    await approve(again.body.id)
    await h.worker.drain()
    const failed = await get(again.body.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toContain('A cancelled subscription cannot be changed')
    expect(failed.attempts).toHaveLength(1)
  })

  it('names bad fields', async () => {
    const r = await act('place_order', { companyId: 'nope', lineItems: [{ quantity: 0 }] })
    expect(r.status).toBe(422)
    const paths = r.body.details.map((d: { path: string }) => d.path)
    expect(paths).toEqual(
      expect.arrayContaining([
        'input.companyId',
        'input.lineItems.0.productId',
        'input.lineItems.0.quantity',
        'input.lineItems.0.billingTerm',
      ]),
    )
  })
})
