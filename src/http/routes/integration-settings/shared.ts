/**
 * What the integration settings routes (`/integrations/communication|slack|teams|discord|monitoring|ticketing|psa`,
 * the Breeze documents' doors) share: the integration's state as they show it, test outcomes, and integration errors as the API's
 * `{error, code, details}` shape with the door's own field names.
 */

import { z } from '@hono/zod-openapi'
import type { CheckOutcome, IntegrationView } from '../../../integrations/service.ts'
import { domainFailure } from '../../error-status.ts'
import { domainApiError, errorResponses } from '../../errors.ts'
import { iso, timestamp, uuidSchema } from '../../schemas.ts'
import { json, jsonBody } from '../shared.ts'

export const TAG = 'Integration settings (Breeze)'

export const orgIdField = uuidSchema
  .optional()
  .openapi({ description: 'The organization; required for partner and system keys' })

/** The query of a door's GET: only the organization. */
export const orgQuery = z.object({ orgId: orgIdField })

/** The optional body of a door's test route: only the organization. */
export const orgOnlyBody = jsonBody(z.strictObject({ orgId: orgIdField }), false)

export const integrationStateSchema = z
  .object({
    id: z.uuid().openapi({ description: 'The integration (also reachable at /api/v1/integrations/{id})' }),
    provider: z.string(),
    status: z.enum(['pending_verify', 'active', 'inactive', 'error']),
    lastError: z
      .string()
      .nullable()
      .openapi({ description: 'The last verification or probe error, in the vendor’s words' }),
    lastErrorAt: timestamp.nullable(),
    verifiedAt: timestamp.nullable(),
    lastTestedAt: timestamp.nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi('IntegrationState')

export function integrationState(v: IntegrationView) {
  return {
    id: v.id,
    provider: v.provider,
    status: v.status,
    lastError: v.lastError?.message ?? null,
    lastErrorAt: iso(v.lastError?.at),
    verifiedAt: iso(v.verifiedAt),
    lastTestedAt: iso(v.lastTestedAt),
    createdAt: v.createdAt.toISOString(),
    updatedAt: v.updatedAt.toISOString(),
  }
}

/** What failed, the same on every test route: see `TransportFailure`, `vendor` (see `vendorStatus`), or `other`. */
export const failureSchema = z
  .enum(['dns', 'connect', 'tls', 'timeout', 'blocked', 'protocol', 'vendor', 'other'])
  .nullable()
  .openapi({
    description:
      'What failed: `dns` (the host did not resolve), `connect`, `tls`, `timeout`, `blocked` (Patchbay may not ' +
      'call that URL), `protocol` (no HTTP answer), `vendor` (it answered with an error: see the vendor status) ' +
      'or `other`; null on success',
  })

export function failureOf(o: CheckOutcome): z.infer<typeof failureSchema> {
  if (o.ok) return null
  if (o.failure) return o.failure
  return o.httpStatus !== undefined ? 'vendor' : 'other'
}

export const testResultSchema = z
  .object({
    ok: z.boolean(),
    error: z
      .string()
      .nullable()
      .openapi({ description: 'What the platform or endpoint answered, verbatim, without any secret' }),
    vendorStatus: z.number().int().nullable().openapi({
      description: "The vendor's HTTP status when it answered (on success too); null when none answered",
    }),
    failure: failureSchema,
    retryable: z.boolean().openapi({ description: 'A rate limit, timeout or outage rather than a refusal' }),
    retryAfterMs: z.number().int().nullable(),
    latencyMs: z.number().int(),
  })
  .openapi('IntegrationTestResult')

export function testResult(o: CheckOutcome) {
  return {
    ok: o.ok,
    error: o.ok ? null : (o.error ?? 'Test failed'),
    vendorStatus: o.httpStatus ?? null,
    failure: failureOf(o),
    retryable: o.retryable,
    retryAfterMs: o.retryAfterMs ?? null,
    latencyMs: Math.round(o.latencyMs),
  }
}

/** The answer of a test route: the real outcome, the platform's words when it refused, and the state now. */
export function testResponse(
  result: { outcome: CheckOutcome; integration: IntegrationView },
  okMessage: string,
) {
  const { outcome, integration } = result
  return {
    success: outcome.ok,
    message: outcome.ok ? okMessage : (outcome.error ?? 'Test failed'),
    test: testResult(outcome),
    integration: integrationState(integration),
  }
}

export const testResponseSchema = z.object({
  success: z.boolean().openapi({ description: 'The outcome of the real test' }),
  message: z.string(),
  test: testResultSchema,
  integration: integrationStateSchema,
})

/**
 * Runs a service call and turns a domain refusal into the API's error, with the status of error-status.ts
 * (`invalid` 422 naming each field, `not_found` 404, `conflict` and `no_active_provider` 409). `rename` maps the
 * service's field names, such as `credentials.webhookUrl`, to the door's.
 */
export async function withApiErrors<T>(
  fn: () => Promise<T>,
  rename: (field: string) => string = (f) => f,
): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    const failure = domainFailure(err)
    if (!failure) throw err
    throw domainApiError(failure, rename)
  }
}

/** `credentials.webhookUrl` → `webhookUrl`: doors whose body holds credential fields at the top level. */
export function flatCredentialField(field: string): string {
  return field.startsWith('credentials.') ? field.slice('credentials.'.length) : field
}

/** The responses of a door's test route. */
export const testRouteResponses = {
  200: json(testResponseSchema, 'The test ran'),
  ...errorResponses(400, 401, 404, 422),
}
