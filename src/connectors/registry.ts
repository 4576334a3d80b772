import { autotask } from './autotask/index.ts'
import { connectwise } from './connectwise/index.ts'
import { dattoEdr } from './datto-edr/index.ts'
import { dattoRmm } from './datto-rmm/index.ts'
import { discord } from './discord/index.ts'
import { freshservice } from './freshservice/index.ts'
import { genericMonitoring } from './generic-monitoring/index.ts'
import { genericTicketing } from './generic-ticketing/index.ts'
import { genericWebhook } from './generic-webhook/inbound.ts'
import { itGlue } from './itglue/index.ts'
import { jira } from './jira/index.ts'
import { microsoft365 } from './microsoft365/index.ts'
import { msgraph } from './msgraph/inbound.ts'
import { pax8 } from './pax8/index.ts'
import { servicenow } from './servicenow/index.ts'
import { slack } from './slack/index.ts'
import { teams } from './teams/index.ts'
import type { Connector, ConnectorDescriptor, ConnectorInbound, InboundOnlyConnector } from './types.ts'
import { unifi } from './unifi/index.ts'
import { zendesk } from './zendesk/index.ts'

/**
 * Every provider Patchbay knows. Adding a vendor means adding its folder and one line here; nothing else in
 * the code names a vendor.
 */
// biome-ignore format: one provider per line keeps additions (and merges) to one line each
const CONNECTORS: readonly Connector[] = [
  slack,
  teams,
  discord,
  connectwise,
  autotask,
  jira,
  servicenow,
  freshservice,
  zendesk,
  genericMonitoring,
  genericTicketing,
  pax8,
  unifi,
  dattoEdr,
  microsoft365,
  dattoRmm,
  itGlue,
]

/** Vendors Patchbay only receives webhooks from; connectors above with an `inbound` module receive too. */
// biome-ignore format: one provider per line keeps additions (and merges) to one line each
const INBOUND_ONLY: readonly InboundOnlyConnector[] = [
  msgraph,
  genericWebhook,
]

/** A set of connectors by provider id. The app reads connectors only through one of these (`ctx.connectors`). */
export interface ConnectorRegistry {
  get(id: string): Connector | undefined
  all(): readonly Connector[]
  /** The inbound webhook module of a provider (a connector's or an inbound-only one). */
  inbound(id: string): ConnectorInbound | undefined
  /** Every provider that can receive webhooks. */
  inboundProviders(): string[]
}

export function createRegistry(
  connectors: readonly Connector[],
  inboundOnly: readonly InboundOnlyConnector[] = INBOUND_ONLY,
): ConnectorRegistry {
  const ids = new Map<string, Connector>()
  for (const c of connectors) {
    if (ids.has(c.descriptor.id)) throw new Error(`two connectors share the id "${c.descriptor.id}"`)
    ids.set(c.descriptor.id, c)
  }
  const inbound = new Map<string, ConnectorInbound>()
  for (const c of connectors) if (c.inbound) inbound.set(c.descriptor.id, c.inbound)
  for (const c of inboundOnly) {
    if (inbound.has(c.id) || ids.has(c.id)) throw new Error(`two connectors share the id "${c.id}"`)
    inbound.set(c.id, c.inbound)
  }
  return {
    get: (id) => ids.get(id),
    all: () => connectors,
    inbound: (id) => inbound.get(id),
    inboundProviders: () => [...inbound.keys()],
  }
}

/** The registry of the real connectors; the default `ctx.connectors`. */
export const defaultRegistry: ConnectorRegistry = createRegistry(CONNECTORS)

export function connector(id: string): Connector | undefined {
  return defaultRegistry.get(id)
}

export function allConnectors(): readonly Connector[] {
  return CONNECTORS
}

export function descriptors(): ConnectorDescriptor[] {
  return CONNECTORS.map((c) => c.descriptor)
}
