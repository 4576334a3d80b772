/**
 * Telemetry forwarding on the delivery engine. Every `device.telemetry` event of an organization with a
 * monitoring integration becomes a delivery (`target_type` `monitoring`) when it carries at least one of the
 * families the integration's `forwardEvents` selects; the transport sends each target's due deliveries in ONE
 * request (`attemptBatch`), so a busy fleet costs the endpoint a request per batch, not per sample.
 *
 * The request (documented in README, "Monitoring forwarding"):
 *
 *   POST <endpoint>
 *   Authorization: Bearer <apiKey>            (when an apiKey is set)
 *   Content-Type: application/json
 *   {
 *     "type": "patchbay.telemetry", "source": "patchbay", "timestamp": "<when sent>",
 *     "data": {
 *       "orgId": "<organization>", "count": 2,
 *       "events": [
 *         { "id": "<event id>", "deliveryId": "<delivery id>", "type": "device.telemetry",
 *           "timestamp": "<when measured>", "deviceId": "dev-1", "hostname": "WS-01",
 *           "metrics": { "cpu": {…}, "memory": {…} } }
 *       ]
 *     }
 *   }
 *
 * Only the families `forwardEvents` names are in `metrics`, each exactly as the event carried it. Delivery is
 * at-least-once: a retried batch may hold events the endpoint has seen, so receivers dedupe on `events[].id`.
 * The envelope is the one verification (`patchbay.test`) and health probes (`patchbay.heartbeat`) use.
 */

import { VendorError } from '../connectors/vendor-error.ts'
import type { AppContext } from '../context.ts'
import { DEFAULT_RETRY_POLICY } from '../delivery/policy.ts'
import type { AttemptOutcome, ClaimedDelivery, Transport } from '../delivery/types.ts'
import { connectorEnv } from '../integrations/verification.ts'
import { scrubSecrets } from '../lib/redact.ts'
import { type IntegrationTarget, TargetLoader, unusable, vendorFailure } from '../notifications/targets.ts'
import { forwardingSettings, type MetricFamily } from './settings.ts'

export const MONITORING_TARGET = 'monitoring'
export const TELEMETRY_EVENT = 'device.telemetry'

export interface ForwardedTelemetry {
  id: string
  deliveryId: string
  type: typeof TELEMETRY_EVENT
  timestamp: string
  deviceId?: string
  hostname?: string
  metrics: Partial<Record<MetricFamily, unknown>>
}

export interface TelemetryBatch {
  type: 'patchbay.telemetry'
  source: 'patchbay'
  timestamp: string
  data: { orgId: string; count: number; events: ForwardedTelemetry[] }
}

function str(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  return typeof v === 'string' && v.trim() ? v.trim() : undefined
}

/** The event as forwarded, or undefined when none of its families is selected any more. */
export function forwardedTelemetry(
  d: ClaimedDelivery,
  families: readonly MetricFamily[],
): ForwardedTelemetry | undefined {
  const data = (d.event.data ?? {}) as Record<string, unknown>
  const metrics: ForwardedTelemetry['metrics'] = {}
  for (const f of families) if (data[f] !== undefined && data[f] !== null) metrics[f] = data[f]
  if (Object.keys(metrics).length === 0) return undefined
  const device =
    data.device && typeof data.device === 'object' ? (data.device as Record<string, unknown>) : {}
  const deviceId = str(data.deviceId) ?? str(device.id)
  const hostname = str(data.hostname) ?? str(device.hostname)
  return {
    id: d.eventId,
    deliveryId: d.id,
    type: TELEMETRY_EVENT,
    timestamp: d.event.occurredAt.toISOString(),
    ...(deviceId ? { deviceId } : {}),
    ...(hostname ? { hostname } : {}),
    metrics,
  }
}

export function monitoringTransport(ctx: AppContext): Transport {
  const targets = new TargetLoader(ctx)

  const forward = async (ds: ClaimedDelivery[]): Promise<AttemptOutcome[]> => {
    const first = ds[0]
    if (!first) return []
    const target = targets.get(first.targetId)
    const outcomes: (AttemptOutcome | undefined)[] = ds.map((d) => unusable(target, d))
    if (!target?.credentials) return outcomes.map((o) => o ?? { kind: 'failed' })
    const settings = forwardingSettings(target.settings)
    const items: { index: number; item: ForwardedTelemetry }[] = []
    ds.forEach((d, index) => {
      if (outcomes[index]) return
      const item = settings.metricsEnabled ? forwardedTelemetry(d, settings.forwardEvents) : undefined
      if (item) items.push({ index, item })
      else
        outcomes[index] = {
          kind: 'failed',
          errorMessage: settings.metricsEnabled
            ? `Not forwarded: forwardEvents (${settings.forwardEvents.join(', ') || 'none'}) selects none of its metrics`
            : 'Not forwarded: metricsEnabled is false',
        }
    })
    if (items.length > 0) {
      // Oldest sample first (the claim orders by due time, which ties for events ingested together).
      items.sort((a, b) => a.item.timestamp.localeCompare(b.item.timestamp))
      const result = await post(target, first.orgId, items)
      for (const { index } of items) outcomes[index] = result
    }
    return outcomes.map((o) => o ?? { kind: 'failed' })
  }

  const post = async (
    target: IntegrationTarget,
    orgId: string,
    items: { item: ForwardedTelemetry }[],
  ): Promise<AttemptOutcome> => {
    const batch: TelemetryBatch = {
      type: 'patchbay.telemetry',
      source: 'patchbay',
      timestamp: ctx.clock.now().toISOString(),
      data: { orgId, count: items.length, events: items.map((i) => i.item) },
    }
    const forwarding = ctx.connectors.get(target.provider)?.forwarding
    if (!forwarding)
      return { kind: 'failed', errorMessage: `Provider ${target.provider} cannot forward events; not sent` }
    const started = performance.now()
    try {
      const res = await forwarding.post(target.credentials ?? {}, batch, connectorEnv(ctx, target.provider), {
        timeoutMs: ctx.config.PATCHBAY_DELIVERY_TIMEOUT_MS,
      })
      return {
        kind: 'delivered',
        responseStatus: res.status,
        responseBody: scrubSecrets(res.body, target.secrets),
        responseTimeMs: Math.round(performance.now() - started),
      }
    } catch (err) {
      if (err instanceof VendorError)
        return {
          ...vendorFailure(err, target.secrets),
          responseTimeMs: Math.round(performance.now() - started),
        }
      throw err
    }
  }

  return {
    type: MONITORING_TARGET,
    prepare: (batch) => targets.prepare(batch),
    attempt: async (d) => (await forward([d]))[0] ?? { kind: 'failed' },
    attemptBatch: forward,
    retryPolicy: () => DEFAULT_RETRY_POLICY,
  }
}
