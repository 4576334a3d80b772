/**
 * The PSA stand-ins by provider id, for tests that run the same scenario against every vendor:
 *
 *   for (const [provider, make] of Object.entries(PSA_STANDINS)) {
 *     const standin = await make({ clock }).start()
 *     // POST /api/v1/psa/connections { provider, credentials: standin.credentials, settings: {
 *     //   defaultBoard: standin.defaults.queue, … resolved status: standin.statuses.resolved } }
 *   }
 *
 * See standin.ts for the shared `PsaStandIn` view, and each vendor's file for its own state API.
 */
import { AutotaskStandIn } from './autotask.ts'
import { ConnectWiseStandIn } from './connectwise.ts'
import { FreshserviceStandIn } from './freshservice.ts'
import { JiraStandIn } from './jira.ts'
import { ServiceNowStandIn } from './servicenow.ts'
import type { PsaStandIn, StandInOptions } from './standin.ts'
import { ZendeskStandIn } from './zendesk.ts'

export type { FailOptions, PsaStandIn, RecordedRequest, StandInOptions, StandInTicket } from './standin.ts'
export {
  AutotaskStandIn,
  ConnectWiseStandIn,
  FreshserviceStandIn,
  JiraStandIn,
  ServiceNowStandIn,
  ZendeskStandIn,
}

export const PSA_STANDINS: Readonly<Record<string, (opts?: StandInOptions) => PsaStandIn>> = {
  connectwise: (opts) => new ConnectWiseStandIn(opts),
  autotask: (opts) => new AutotaskStandIn(opts),
  jira: (opts) => new JiraStandIn(opts),
  servicenow: (opts) => new ServiceNowStandIn(opts),
  freshservice: (opts) => new FreshserviceStandIn(opts),
  zendesk: (opts) => new ZendeskStandIn(opts),
}
