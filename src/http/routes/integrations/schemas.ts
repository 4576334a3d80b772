/**
 * What the `/integrations` routes share: the integration as they show it, its query and body fields, and a
 * credential test's outcome (the same on `POST /test` and `POST /{id}/test`).
 */
import { z } from '@hono/zod-openapi'
import { CONNECTOR_CATEGORIES } from '../../../connectors/types.ts'
import type { CheckOutcome, IntegrationView } from '../../../integrations/service.ts'
import { iso, uuidSchema } from '../../schemas.ts'
import { failureOf, failureSchema } from '../integration-settings/shared.ts'

export const TAG = 'Integrations'
export const statusEnum = z.enum(['pending_verify', 'active', 'inactive', 'error'])
export const categoryEnum = z.enum(CONNECTOR_CATEGORIES)

export const timestamp = z.string().openapi({ example: '2026-01-10T08:30:00.000Z' })

export const integrationSchema = z
  .object({
    id: z.uuid(),
    org_id: z.uuid(),
    provider: z.string().openapi({ example: 'connectwise' }),
    name: z.string().nullable().openapi({ description: 'Instance name; null for the unnamed instance' }),
    display_name: z.string(),
    category: z.string(),
    status: statusEnum,
    is_default: z.boolean().openapi({ description: 'Used when no instance of the provider is named' }),
    enabled_capabilities: z.array(z.string()),
    credentials: z.record(z.string(), z.unknown()).openapi({
      description: 'Every field of the credential schema; sensitive fields are always null',
    }),
    metadata: z.record(z.string(), z.unknown()).openapi({
      description:
        'Your own key-value notes; while an error stands Patchbay adds `last_error` (the vendor’s message), ' +
        '`last_error_at` and `last_error_source` (`verification` or `probe`)',
    }),
    settings: z.record(z.string(), z.unknown()),
    verified_at: timestamp.nullable(),
    last_tested_at: timestamp.nullable(),
    last_probe_at: timestamp.nullable(),
    last_probe_ok: z.boolean().nullable(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi('Integration')

export function integrationResource(v: IntegrationView) {
  const metadata: Record<string, unknown> = { ...v.metadata }
  if (v.lastError) {
    metadata.last_error = v.lastError.message
    metadata.last_error_at = v.lastError.at.toISOString()
    metadata.last_error_source = v.lastError.source
  }
  return {
    id: v.id,
    org_id: v.orgId,
    provider: v.provider,
    name: v.name,
    display_name: v.displayName,
    category: v.category,
    status: v.status,
    is_default: v.isDefault,
    enabled_capabilities: v.enabledCapabilities,
    credentials: v.credentials,
    metadata,
    settings: v.settings,
    verified_at: iso(v.verifiedAt),
    last_tested_at: iso(v.lastTestedAt),
    last_probe_at: iso(v.lastProbeAt),
    last_probe_ok: v.lastProbeOk,
    created_at: v.createdAt.toISOString(),
    updated_at: v.updatedAt.toISOString(),
  }
}

export const jsonObject = z.record(z.string(), z.unknown())

export const orgIdField = uuidSchema
  .optional()
  .openapi({ description: 'The organization (partner and system keys)' })

export const testResultSchema = z
  .object({
    ok: z.boolean(),
    provider: z.string(),
    error: z.string().nullable().openapi({ description: "The vendor's own error text, credentials removed" }),
    vendor_status: z.number().int().nullable().openapi({
      description: "The vendor's HTTP status when it answered (on success too); null when none answered",
    }),
    failure: failureSchema,
    retryable: z
      .boolean()
      .openapi({ description: 'A rate limit, timeout or outage rather than a rejection' }),
    account: z.string().nullable(),
    advice: z
      .string()
      .nullable()
      .optional()
      .openapi({
        description:
          'What to change, when the test found something (e.g. the IT Glue region or Datto RMM platform of a blank ' +
          'URL); nothing stored is changed',
      }),
    suggested_credentials: z.record(z.string(), z.string()).nullable().optional().openapi({
      description: 'The credential values the advice suggests, to save with the integration',
    }),
    latency_ms: z.number().int(),
  })
  .openapi('CredentialTestResult')

/** A test's outcome as the `/integrations` routes show it. */
export function testData(provider: string, outcome: CheckOutcome) {
  return {
    ok: outcome.ok,
    provider,
    error: outcome.ok ? null : (outcome.error ?? 'Test failed'),
    vendor_status: outcome.httpStatus ?? null,
    failure: failureOf(outcome),
    retryable: outcome.retryable,
    account: outcome.account ?? null,
    advice: outcome.advice ?? null,
    suggested_credentials: outcome.suggestedCredentials ?? null,
    latency_ms: Math.round(outcome.latencyMs),
  }
}

/** A test's `message`: the vendor's words when it refused, Patchbay's advice when it has some. */
export function testMessage(outcome: CheckOutcome): string {
  return outcome.ok
    ? outcome.advice
      ? `Connection successful. ${outcome.advice}`
      : 'Connection successful. Credentials validated.'
    : (outcome.error ?? 'Test failed')
}
