import { beforeAll, describe, expect, it } from 'vitest'
import { actionsFixture } from './actions-fixture.ts'
import type { Harness } from './harness.ts'
import { Pax8StandIn } from './standins/pax8.ts'

/**
 * Pax8 actions (all need approval) against the stand-in: an order previewed with isMock=true (Pax8's validation
 * shown to the approver, nothing ordered), placed once after approval; quantity change and cancellation sent as
 * Pax8 documents them; Pax8's 422 fails the action with its words.
 */
const fx = actionsFixture('pax8', {
  // Pax8 dates its orders by its own clock: the harness's, as a real Pax8 and Patchbay share the date.
  standIn: (h) => new Pax8StandIn({ clock: h.clock }).start(),
  credentials: (pax8) => pax8.credentials,
})
let h: Harness
let pax8: Pax8StandIn
beforeAll(() => {
  h = fx.h
  pax8 = fx.standIn
})
const { act, approve, get } = fx
const orderPosts = () => pax8.requests.filter((q) => q.method === 'POST' && q.path === '/v1/orders')
const realOrderPosts = () => orderPosts().filter((q) => q.query.get('isMock') !== 'true')

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

  it('shows Pax8’s refusal of the dry run to the approver, fails with it, and is sent again by hand', async () => {
    const inactive = pax8.raw.companies[4]?.id as string
    const r = await act('place_order', {
      companyId: inactive,
      lineItems: [{ productId: pax8.raw.products[0]?.id, quantity: 1, billingTerm: 'Annual' }],
    })
    expect(r.status).toBe(202)
    expect(r.body.preview.ok).toBe(false)
    expect(r.body.preview.status).toBe(422)
    expect(r.body.preview.error).toContain('Company Customer 5 is not active')

    // Approved anyway: Pax8 refuses the order with its words; once the company is active, a retry by hand places it.
    const orders = pax8.raw.orders.length
    expect((await approve(r.body.id)).status).toBe(202)
    await h.worker.drain()
    const failed = await get(r.body.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toContain('Company Customer 5 is not active')
    expect(failed.attempts).toHaveLength(1)
    expect(failed.attempts[0]).toMatchObject({ outcome: 'failed', vendorStatus: 422 })
    expect(pax8.raw.orders.length).toBe(orders)
    ;(pax8.raw.companies[4] as { status: string }).status = 'Active'
    const retry = await h.json('POST', `/api/v1/actions/${r.body.id}/retry`, { token: fx.t.orgAToken })
    expect(retry.status).toBe(202)
    await h.worker.drain()
    const done = await get(r.body.id)
    expect(done.status).toBe('completed')
    expect(done.attempts.map((a: { vendorStatus: number }) => a.vendorStatus)).toEqual([422, 200])
    expect(pax8.raw.orders.length).toBe(orders + 1)
    ;(pax8.raw.companies[4] as { status: string }).status = 'Inactive'
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

  it('places the order once when Pax8’s answer is lost: the retry finds it among the company’s orders', async () => {
    const company = pax8.raw.companies[1]?.id as string
    const product = pax8.raw.products[1]?.id as string
    const r = await act('place_order', {
      companyId: company,
      lineItems: [{ productId: product, quantity: 7, billingTerm: 'Annual' }],
    })
    expect((await approve(r.body.id)).status).toBe(202)
    // Pax8 takes the order; the gateway in front of it answers 504.
    pax8.dropNextAnswer({ method: 'POST', path: '/v1/orders' })
    const posts = realOrderPosts().length
    const orders = pax8.raw.orders.length
    await h.worker.drain()
    expect(pax8.raw.orders.length).toBe(orders + 1)
    expect((await get(r.body.id)).status).toBe('running')
    h.clock.advance(600_000)
    await h.worker.drain()
    expect(realOrderPosts()).toHaveLength(posts + 1)
    expect(pax8.raw.orders.length).toBe(orders + 1)
    const lookup = pax8.requests.filter((q) => q.method === 'GET' && q.path === '/v1/orders').at(-1)
    expect(lookup?.query.get('companyId')).toBe(company)
    const done = await get(r.body.id)
    expect(done.status).toBe('completed')
    expect(done.result.vendorRef).toBe(pax8.raw.orders.at(-1)?.id)
    expect(done.attempts.map((a: { vendorStatus: number }) => a.vendorStatus)).toEqual([504, 200])
  })

  it('finds an order Pax8 took just before midnight when the retry comes after it', async () => {
    const company = pax8.raw.companies[2]?.id as string
    const product = pax8.raw.products[0]?.id as string
    const r = await act('place_order', {
      companyId: company,
      lineItems: [{ productId: product, quantity: 4, billingTerm: 'Monthly' }],
    })
    expect((await approve(r.body.id)).status).toBe(202)
    // 23:59:59.500 UTC: Pax8 dates the order today; the retry a few seconds later is tomorrow.
    const now = h.clock.now()
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)
    h.clock.advance(midnight - now.getTime() - 500)
    pax8.dropNextAnswer({ method: 'POST', path: '/v1/orders' })
    const posts = realOrderPosts().length
    await h.worker.drain()
    expect(pax8.raw.orders.at(-1)?.createdDate).toBe(new Date(midnight - 1).toISOString().slice(0, 10))
    h.clock.advance(600_000)
    await h.worker.drain()
    expect(realOrderPosts()).toHaveLength(posts + 1)
    const done = await get(r.body.id)
    expect(done.status).toBe('completed')
    expect(done.result.vendorRef).toBe(pax8.raw.orders.at(-1)?.id)
  })

  it('cancels once when Pax8’s answer is lost: the retry reads the subscription first', async () => {
    const sub = pax8.raw.subscriptions[2] as { id: string; status: string }
    expect(sub.status).toBe('Active')
    const c = await act('cancel_subscription', { subscriptionId: sub.id })
    expect((await approve(c.body.id)).status).toBe(202)
    pax8.dropNextAnswer({ method: 'DELETE' })
    const deletes = () => pax8.requests.filter((q) => q.method === 'DELETE')
    const before = deletes().length
    await h.worker.drain()
    expect(sub.status).toBe('Cancelled')
    h.clock.advance(600_000)
    await h.worker.drain()
    expect(deletes()).toHaveLength(before + 1)
    const done = await get(c.body.id)
    expect(done.status).toBe('completed')
    expect(done.result.body).toBe('The subscription is already Cancelled')
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

  it('sends none of its actions before approval, nor after a rejection or expiry; the requester cannot approve', async () => {
    const sub = pax8.raw.subscriptions[1] as { id: string }
    await fx.neverSentUnapproved(
      [
        {
          action: 'place_order',
          input: {
            companyId: pax8.raw.companies[0]?.id,
            lineItems: [{ productId: pax8.raw.products[0]?.id, quantity: 1, billingTerm: 'Monthly' }],
          },
        },
        { action: 'change_subscription_quantity', input: { subscriptionId: sub.id, quantity: 9 } },
        { action: 'cancel_subscription', input: { subscriptionId: sub.id } },
      ],
      // The isMock=true previews change nothing at Pax8.
      () =>
        pax8.requests.filter(
          (q) => q.method !== 'GET' && q.path !== '/v1/token' && q.query.get('isMock') !== 'true',
        ).length,
    )
  })
})
