/**
 * The Breeze monitoring integration: a free-form JSON configuration whose `endpoint` and `apiKey` are the
 * credentials of a `generic-monitoring` integration (the key sealed), and whose other fields are its settings,
 * kept as given. Patchbay reads two of them: `metricsEnabled` (default true) and `forwardEvents` (the telemetry
 * families forwarded, default all four).
 */

import type { AppContext } from '../context.ts'
import { IntegrationError } from '../integrations/errors.ts'
import {
  type AuditContext,
  assertStoredMaskedKey,
  type CheckOutcome,
  findIntegration,
  type IntegrationView,
  isMaskedKey,
  loadCredentials,
  saveIntegration,
  verifyOrgIntegration,
} from '../integrations/service.ts'
import { secretNamedPaths } from '../lib/redact.ts'
import { maskSecret } from '../vault/mask.ts'

/** The provider the `/monitoring` door manages; its connector (through `ctx.connectors`) forwards the events. */
export const MONITORING_PROVIDER = 'generic-monitoring'

/** The telemetry figures a `device.telemetry` event carries, each forwarded only when `forwardEvents` names it. */
export const METRIC_FAMILIES = ['cpu', 'memory', 'disk', 'network'] as const
export type MetricFamily = (typeof METRIC_FAMILIES)[number]

/** The fields Patchbay itself reads or seals; everything else in the configuration is stored as given. */
export const KNOWN_FIELDS = ['endpoint', 'apiKey', 'metricsEnabled', 'forwardEvents'] as const

export interface ForwardingSettings {
  metricsEnabled: boolean
  forwardEvents: MetricFamily[]
}

export function forwardingSettings(settings: Record<string, unknown>): ForwardingSettings {
  const wanted = Array.isArray(settings.forwardEvents)
    ? settings.forwardEvents.filter((f): f is MetricFamily => METRIC_FAMILIES.includes(f as MetricFamily))
    : [...METRIC_FAMILIES]
  return { metricsEnabled: settings.metricsEnabled !== false, forwardEvents: wanted }
}

export interface MonitoringView {
  integration: IntegrationView
  /** The configuration as stored, `apiKey` masked (`****abcd`). */
  config: Record<string, unknown>
}

async function view(ctx: AppContext, integration: IntegrationView): Promise<MonitoringView> {
  const { credentials } = await loadCredentials(
    ctx,
    { kind: 'org', orgId: integration.orgId },
    integration.id,
  )
  const config: Record<string, unknown> = { endpoint: credentials.endpoint }
  if (typeof credentials.apiKey === 'string') config.apiKey = maskSecret(credentials.apiKey)
  Object.assign(config, integration.settings)
  return { integration, config }
}

export async function getMonitoring(ctx: AppContext, orgId: string): Promise<MonitoringView | undefined> {
  const integration = await findIntegration(ctx, orgId, MONITORING_PROVIDER)
  return integration ? view(ctx, integration) : undefined
}

/**
 * Replaces the organization's monitoring configuration (PUT semantics): the given object is the whole
 * configuration, except `apiKey`, which is kept when absent (or when it is the masked form the API shows),
 * removed when null, and replaced when given. Fields named like secrets other than `apiKey` are refused: only
 * `apiKey` is stored encrypted.
 */
export async function saveMonitoring(
  ctx: AppContext,
  orgId: string,
  input: Record<string, unknown> & { endpoint: string; apiKey?: string | null | undefined },
  audit: AuditContext,
): Promise<{ monitoring: MonitoringView; created: boolean }> {
  const { endpoint, apiKey, ...settings } = input
  const secretNamed = secretNamedPaths(settings)
  if (secretNamed.length) {
    throw IntegrationError.invalid(
      Object.fromEntries(
        secretNamed.map((k) => [
          k,
          [`The ${k} field looks like a secret; only apiKey is stored encrypted, so put the secret there.`],
        ]),
      ),
    )
  }
  const credentials: Record<string, unknown> = { endpoint }
  if (apiKey === null) credentials.apiKey = null
  else if (typeof apiKey === 'string' && isMaskedKey(apiKey)) {
    assertStoredMaskedKey(apiKey, (await getMonitoring(ctx, orgId))?.config.apiKey)
  } else if (apiKey !== undefined) credentials.apiKey = apiKey
  const { integration, created } = await saveIntegration(
    ctx,
    orgId,
    { provider: MONITORING_PROVIDER, credentials, settings },
    audit,
  )
  return { monitoring: await view(ctx, integration), created }
}

/** A real request to the saved endpoint (the connector POSTs a `patchbay.test` event); success only on 2xx. */
export function testMonitoring(
  ctx: AppContext,
  orgId: string,
  audit: AuditContext,
): Promise<{ integration: IntegrationView; outcome: CheckOutcome } | undefined> {
  return verifyOrgIntegration(ctx, orgId, MONITORING_PROVIDER, audit)
}
