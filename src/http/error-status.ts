/**
 * The one table from domain refusals to HTTP statuses. Services throw their own errors (`IntegrationError`,
 * `OnboardingError`, a connector's `VendorError`) and never choose a status; every route family reads the status
 * and the machine-readable code here, and only formats its own envelope around them: the Breeze routes
 * `{error, code, details}` (errors.ts), the SynthesQ routes `{success: false, message, code}` or, for `invalid`,
 * `{success: false, message, errors}` (envelope.ts). A new domain code does not compile until it has a row here.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { IntegrationError, type IntegrationErrorCode } from '../integrations/errors.ts'
import { OnboardingError } from '../onboarding/errors.ts'

/** Every reason a service refuses an operation. */
export type DomainErrorCode = IntegrationErrorCode | 'vendor_failed'

export interface DomainStatus {
  status: ContentfulStatusCode
  code: string
}

export const DOMAIN_ERROR_STATUS = {
  /** The input is wrong; the envelope names each field. */
  invalid: { status: 422, code: 'validation_failed' },
  not_found: { status: 404, code: 'not_found' },
  conflict: { status: 409, code: 'conflict' },
  /**
   * No routing rule leads to an active integration for the capability. The request itself is valid; the
   * organization's state (its rules, its integrations' statuses) is what stands in the way, as with any conflict.
   * Its own code, so a caller can tell "set up routing" apart from other conflicts.
   */
  no_active_provider: { status: 409, code: 'no_active_provider' },
  /** The vendor refused or failed during an operation Patchbay ran for the caller: the fault is upstream. */
  vendor_failed: { status: 502, code: 'vendor_error' },
} as const satisfies Record<DomainErrorCode, DomainStatus>

/** A domain refusal, whichever service raised it. `fields` (service field names) is set for `invalid`. */
export interface DomainFailure {
  code: DomainErrorCode
  message: string
  fields: Record<string, string[]>
}

/** The domain refusal `err` is, or undefined when it is none (then it is the door's or the fallback's to handle). */
export function domainFailure(err: unknown): DomainFailure | undefined {
  if (err instanceof IntegrationError) return { code: err.code, message: err.message, fields: err.fields }
  if (err instanceof OnboardingError) {
    if (err.kind === 'vendor') return { code: 'vendor_failed', message: err.message, fields: {} }
    const fields = err.kind === 'invalid' ? { [err.field ?? '(body)']: [err.message] } : {}
    return { code: err.kind, message: err.message, fields }
  }
  return undefined
}

/** The status and code of a domain refusal. */
export function domainStatus(failure: DomainFailure): DomainStatus {
  return DOMAIN_ERROR_STATUS[failure.code]
}

export type VendorFailureCode =
  | 'vendor_rate_limited'
  | 'invalid_filter'
  | 'vendor_error'
  | 'vendor_unreachable'

/**
 * What a read from a vendor answers when the vendor said no (`vendorStatus` its HTTP status, null when it could
 * not be reached): its rate limit stays a 429, a refused filter or cursor is the caller's 400, a missing record
 * 404; refused stored credentials (401/403) and failures are the vendor's fault, 502.
 */
export function vendorFailureStatus(
  vendorStatus: number | null,
  message: string,
): { status: ContentfulStatusCode; code: VendorFailureCode } {
  if (vendorStatus === 429) return { status: 429, code: 'vendor_rate_limited' }
  if (vendorStatus === 400 || vendorStatus === 422) {
    return {
      status: 400,
      code: vendorStatus === 400 && /filter|cursor/i.test(message) ? 'invalid_filter' : 'vendor_error',
    }
  }
  if (vendorStatus === 404) return { status: 404, code: 'vendor_error' }
  return { status: 502, code: vendorStatus === null ? 'vendor_unreachable' : 'vendor_error' }
}
