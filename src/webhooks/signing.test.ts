import { createHmac, timingSafeEqual } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import {
  breezeHeaders,
  generateStandardSecret,
  isReservedHeader,
  isStandardSecret,
  standardHeaders,
} from './signing.ts'

// The verification example from the Breeze webhooks documentation, verbatim.
function verifyWebhookSignature(
  payload: string,
  secret: string,
  signatureHeader: string,
  timestampHeader: string,
) {
  const expectedSig = signatureHeader.replace('sha256=', '')
  const signatureInput = `${timestampHeader}.${payload}`
  const computedSig = createHmac('sha256', secret).update(signatureInput).digest('hex')
  return timingSafeEqual(Buffer.from(expectedSig, 'hex'), Buffer.from(computedSig, 'hex'))
}

describe('Breeze signatures', () => {
  const body = JSON.stringify({ id: 'e1', type: 'device.offline', data: { a: 1 } })
  it('verify with the documented example and carry the documented headers', () => {
    const h = breezeHeaders({
      body,
      secret: 'whsec_your_signing_secret',
      deliveryId: 'd1',
      eventId: 'e1',
      eventType: 'device.offline',
      nowMs: 1771418096789,
    })
    expect(h).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'Breeze-Webhooks/1.0',
      'x-breeze-delivery-id': 'd1',
      'x-breeze-event-id': 'e1',
      'x-breeze-event-type': 'device.offline',
      'x-breeze-timestamp': '1771418096789',
      'x-breeze-signature-timestamp': '1771418096789',
    })
    expect(h['x-breeze-signature']).toMatch(/^sha256=[0-9a-f]{64}$/)
    expect(
      verifyWebhookSignature(
        body,
        'whsec_your_signing_secret',
        h['x-breeze-signature'] as string,
        h['x-breeze-signature-timestamp'] as string,
      ),
    ).toBe(true)
    expect(
      verifyWebhookSignature(
        `${body} `,
        'whsec_your_signing_secret',
        h['x-breeze-signature'] as string,
        h['x-breeze-signature-timestamp'] as string,
      ),
    ).toBe(false)
  })
  it('sends no signature headers without a secret', () => {
    const h = breezeHeaders({ body, secret: null, deliveryId: 'd', eventId: 'e', eventType: 't', nowMs: 1 })
    expect(h['x-breeze-signature']).toBeUndefined()
    expect(h['x-breeze-signature-timestamp']).toBeUndefined()
  })
})

describe('Standard Webhooks signatures', () => {
  it('verify with the standardwebhooks library, with one or two secrets', () => {
    const now = Date.now()
    const a = generateStandardSecret()
    const b = generateStandardSecret()
    expect(isStandardSecret(a)).toBe(true)
    const body = '{"hello":"world"}'
    const one = standardHeaders({ body, secrets: [a], messageId: 'msg_1', nowMs: now })
    expect(new Webhook(a).verify(body, one)).toEqual({ hello: 'world' })
    const both = standardHeaders({ body, secrets: [b, a], messageId: 'msg_1', nowMs: now })
    expect(both['webhook-signature']?.split(' ')).toHaveLength(2)
    expect(new Webhook(a).verify(body, both)).toEqual({ hello: 'world' })
    expect(new Webhook(b).verify(body, both)).toEqual({ hello: 'world' })
    expect(() => new Webhook(generateStandardSecret()).verify(body, both)).toThrow()
  })
  it('recognises secrets and reserved headers', () => {
    expect(isStandardSecret('whsec_short')).toBe(false)
    expect(isStandardSecret('plain-secret')).toBe(false)
    for (const h of ['X-Breeze-Signature', 'content-type', 'Content-Length', 'Host', 'webhook-signature']) {
      expect(isReservedHeader(h)).toBe(true)
    }
    expect(isReservedHeader('X-Custom-Source')).toBe(false)
  })
})
