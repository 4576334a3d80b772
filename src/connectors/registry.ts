import { autotask } from './autotask/index.ts'
import { connectwise } from './connectwise/index.ts'
import { dattoRmm } from './datto-rmm/index.ts'
import { discord } from './discord/index.ts'
import { freshservice } from './freshservice/index.ts'
import { genericMonitoring } from './generic-monitoring/index.ts'
import { genericTicketing } from './generic-ticketing/index.ts'
import { itGlue } from './itglue/index.ts'
import { jira } from './jira/index.ts'
import { servicenow } from './servicenow/index.ts'
import { slack } from './slack/index.ts'
import { teams } from './teams/index.ts'
import type { Connector, ConnectorDescriptor } from './types.ts'
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
  dattoRmm,
  itGlue,
]

/** A set of connectors by provider id. The app reads connectors only through one of these (`ctx.connectors`). */
export interface ConnectorRegistry {
  get(id: string): Connector | undefined
  all(): readonly Connector[]
}

export function createRegistry(connectors: readonly Connector[]): ConnectorRegistry {
  const ids = new Map<string, Connector>()
  for (const c of connectors) {
    if (ids.has(c.descriptor.id)) throw new Error(`two connectors share the id "${c.descriptor.id}"`)
    ids.set(c.descriptor.id, c)
  }
  return { get: (id) => ids.get(id), all: () => connectors }
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
