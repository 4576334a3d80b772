import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import type { AppContext } from '../context.ts'
import { IntegrationError } from '../integrations/errors.ts'
import { createLogger } from '../lib/logger.ts'
import { OnboardingError } from '../onboarding/errors.ts'
import type { AppEnv } from './env.ts'
import { envelopeErrorResponse, INVALID_MESSAGE } from './envelope.ts'
import { DOMAIN_ERROR_STATUS, type DomainErrorCode, vendorFailureStatus } from './error-status.ts'
import { domainApiError, toErrorResponse } from './errors.ts'

const log = createLogger('silent')
// envelopeErrorResponse reads only the logger of the context, and only for errors that are no refusal.
const ctx = { log } as unknown as AppContext

/** Two doors that throw `err`: one answering in the Breeze envelope, one in the SynthesQ envelope. */
async function both(err: unknown) {
  const plain = new Hono()
  plain.onError((e, c) => toErrorResponse(e, c, log))
  plain.get('/', () => {
    throw err
  })
  const enveloped = new Hono<AppEnv>()
  enveloped.onError((e, c) => envelopeErrorResponse(e, c, ctx))
  enveloped.get('/', () => {
    throw err
  })
  const [b, s] = await Promise.all([plain.request('/'), enveloped.request('/')])
  return {
    plain: { status: b.status, body: (await b.json()) as Record<string, unknown> },
    enveloped: { status: s.status, body: (await s.json()) as Record<string, unknown> },
  }
}

describe('the domain error table', () => {
  it('decides no_active_provider once: 409 no_active_provider in both envelopes', async () => {
    const r = await both(
      new IntegrationError('no_active_provider', 'No routing rule for capability "send_fax".'),
    )
    expect(r.plain).toEqual({
      status: 409,
      body: { error: 'No routing rule for capability "send_fax".', code: 'no_active_provider' },
    })
    expect(r.enveloped).toEqual({
      status: 409,
      body: {
        success: false,
        message: 'No routing rule for capability "send_fax".',
        code: 'no_active_provider',
      },
    })
  })

  it('gives every refusal the same status and code in both envelopes', async () => {
    const cases: [DomainErrorCode, unknown][] = [
      ['not_found', IntegrationError.notFound('Routing rule')],
      ['conflict', IntegrationError.conflict('The integration is disabled')],
      ['no_active_provider', new IntegrationError('no_active_provider', 'none')],
      ['not_found', new OnboardingError('not_found', 'No such customer.')],
      ['vendor_failed', new OnboardingError('vendor', 'Microsoft Graph said no.', undefined, 403)],
    ]
    for (const [code, err] of cases) {
      const r = await both(err)
      const row = DOMAIN_ERROR_STATUS[code]
      expect([r.plain.status, r.plain.body.code]).toEqual([row.status, row.code])
      expect([r.enveloped.status, r.enveloped.body.code]).toEqual([row.status, row.code])
    }
    expect(DOMAIN_ERROR_STATUS.vendor_failed).toEqual({ status: 502, code: 'vendor_error' })
  })

  it('names each invalid field: Breeze details (renamed by the door), SynthesQ Laravel errors', async () => {
    const err = IntegrationError.invalid({
      'credentials.webhookUrl': ['The credentials.webhookUrl field is required.'],
      enabledCapabilities: ['Unknown capability.'],
    })
    const r = await both(err)
    expect(r.plain).toEqual({
      status: 422,
      body: {
        error:
          'Validation failed: credentials.webhookUrl: The credentials.webhookUrl field is required.; enabledCapabilities: Unknown capability.',
        code: 'validation_failed',
        details: [
          { path: 'credentials.webhookUrl', message: 'The credentials.webhookUrl field is required.' },
          { path: 'enabledCapabilities', message: 'Unknown capability.' },
        ],
      },
    })
    expect(r.enveloped).toEqual({
      status: 422,
      body: {
        success: false,
        message: INVALID_MESSAGE,
        errors: {
          'credentials.webhookUrl': ['The credentials.webhookUrl field is required.'],
          enabled_capabilities: ['Unknown capability.'],
        },
      },
    })
    const flat = domainApiError({ code: 'invalid', message: '', fields: err.fields }, (f) =>
      f.replace(/^credentials\./, ''),
    )
    expect(flat.details?.[0]).toEqual({ path: 'webhookUrl', message: 'The webhookUrl field is required.' })
  })

  it('keeps an onboarding field refusal a 422 naming the field', async () => {
    const r = await both(
      new OnboardingError('invalid', 'A customer appears twice.', 'customers.1.customerId'),
    )
    expect(r.plain).toEqual({
      status: 422,
      body: {
        error: 'Validation failed: customers.1.customerId: A customer appears twice.',
        code: 'validation_failed',
        details: [{ path: 'customers.1.customerId', message: 'A customer appears twice.' }],
      },
    })
  })

  it('maps a vendor read refusal by what the vendor answered', () => {
    expect(vendorFailureStatus(429, 'slow down')).toEqual({ status: 429, code: 'vendor_rate_limited' })
    expect(vendorFailureStatus(400, 'Unknown filter x')).toEqual({ status: 400, code: 'invalid_filter' })
    expect(vendorFailureStatus(400, 'bad request')).toEqual({ status: 400, code: 'vendor_error' })
    expect(vendorFailureStatus(422, 'bad filter')).toEqual({ status: 400, code: 'vendor_error' })
    expect(vendorFailureStatus(404, 'gone')).toEqual({ status: 404, code: 'vendor_error' })
    expect(vendorFailureStatus(401, 'bad key')).toEqual({ status: 502, code: 'vendor_error' })
    expect(vendorFailureStatus(null, 'timed out')).toEqual({ status: 502, code: 'vendor_unreachable' })
  })
})
