import { autotask } from './autotask/index.ts'
import { connectwise } from './connectwise/index.ts'
import { discord } from './discord/index.ts'
import { freshservice } from './freshservice/index.ts'
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
]

const byId = new Map(CONNECTORS.map((c) => [c.descriptor.id, c]))

export function connector(id: string): Connector | undefined {
  return byId.get(id)
}

export function allConnectors(): readonly Connector[] {
  return CONNECTORS
}

export function descriptors(): ConnectorDescriptor[] {
  return CONNECTORS.map((c) => c.descriptor)
}
