/**
 * The event types Patchbay routes: the Breeze webhooks catalog, plus `webhook.test` (test deliveries) and
 * `device.telemetry` (metrics forwarded to monitoring endpoints).
 */
export const EVENT_TYPES = {
  'device.enrolled': 'A new agent has completed enrollment',
  'device.online': 'A device has come online (heartbeat received)',
  'device.offline': 'A device has stopped sending heartbeats',
  'device.updated': 'Device metadata or configuration has changed',
  'device.decommissioned': 'A device has been decommissioned',
  'device.telemetry': 'Device metrics (cpu, memory, disk, network) for monitoring endpoints',
  'alert.triggered': 'A monitoring rule has fired a new alert',
  'alert.acknowledged': 'An alert has been acknowledged by a user',
  'alert.resolved': 'An alert condition has cleared',
  'alert.escalated': 'An alert has been escalated to a higher tier',
  'script.started': 'Script execution has begun on a device',
  'script.completed': 'Script execution finished successfully',
  'script.failed': 'Script execution failed',
  'automation.started': 'An automation workflow has begun',
  'automation.completed': 'An automation workflow completed successfully',
  'automation.failed': 'An automation workflow failed',
  'policy.evaluated': 'A configuration policy has been evaluated against a device',
  'policy.violation': 'A device is non-compliant with a policy',
  'policy.compliant': 'A device has returned to compliance',
  'patch.available': 'New patches are available for a device',
  'patch.approved': 'A patch has been approved for installation',
  'patch.installed': 'A patch was installed successfully',
  'patch.failed': 'A patch installation failed',
  'patch.rollback': 'A patch has been rolled back',
  'security.score_changed': 'A device’s security posture score has changed',
  'remote.session.started': 'A remote access session has begun',
  'remote.session.ended': 'A remote access session has ended',
  'remote.file.transferred': 'A file was transferred during a remote session',
  'user.login': 'A user logged in',
  'user.logout': 'A user logged out',
  'session.login': 'A device user session started',
  'session.logout': 'A device user session ended',
  'webhook.test': 'A test delivery sent with POST /webhooks/{id}/test',
  'psa.ticket.updated': 'A PSA ticket was created, changed or deleted in the PSA (inbound webhook)',
  'm365.user.created': 'A Microsoft 365 user was created (Microsoft Graph change notification)',
  'm365.user.updated': 'A Microsoft 365 user was updated (Microsoft Graph change notification)',
  'm365.user.deleted': 'A Microsoft 365 user was deleted (Microsoft Graph change notification)',
  'm365.group.created': 'A Microsoft 365 group was created (Microsoft Graph change notification)',
  'm365.group.updated': 'A Microsoft 365 group was updated (Microsoft Graph change notification)',
  'm365.group.deleted': 'A Microsoft 365 group was deleted (Microsoft Graph change notification)',
  'm365.message.created': 'A mail message was created (Microsoft Graph change notification)',
  'm365.message.updated': 'A mail message was updated (Microsoft Graph change notification)',
  'm365.message.deleted': 'A mail message was deleted (Microsoft Graph change notification)',
  'm365.event.created': 'A calendar event was created (Microsoft Graph change notification)',
  'm365.event.updated': 'A calendar event was updated (Microsoft Graph change notification)',
  'm365.event.deleted': 'A calendar event was deleted (Microsoft Graph change notification)',
  'm365.contact.created': 'A contact was created (Microsoft Graph change notification)',
  'm365.contact.updated': 'A contact was updated (Microsoft Graph change notification)',
  'm365.contact.deleted': 'A contact was deleted (Microsoft Graph change notification)',
  'm365.chatmessage.created': 'A Teams chat message was created (Microsoft Graph change notification)',
  'm365.chatmessage.updated': 'A Teams chat message was updated (Microsoft Graph change notification)',
  'm365.chatmessage.deleted': 'A Teams chat message was deleted (Microsoft Graph change notification)',
  'm365.driveitem.created': 'A OneDrive/SharePoint file was created (Microsoft Graph change notification)',
  'm365.driveitem.updated': 'A OneDrive/SharePoint file was updated (Microsoft Graph change notification)',
  'm365.driveitem.deleted': 'A OneDrive/SharePoint file was deleted (Microsoft Graph change notification)',
  'change.created': 'A change control was created',
  'change.ticket_linked': 'A change control was linked to a PSA ticket',
  'change.approved': 'A change control received a technical or operational approval',
  'change.fully_approved': 'A change control received every approval it needs',
  'change.scheduled': 'A change control was scheduled for its implementation window',
  'change.started': 'Implementation of a change control started',
  'change.completed': 'A change control was implemented successfully',
  'change.failed': 'Implementation of a change control failed; rollback required',
  'change.cancelled': 'A change control was cancelled',
  'action.requested': 'An action at a vendor was requested (with its preview, when it waits for approval)',
  'action.approved': 'An action waiting for approval was approved by a second key and queued',
  'action.rejected': 'An action waiting for approval was rejected, with the reason; it is never sent',
  'action.completed': 'An action was carried out at the vendor (with the vendor’s answer)',
  'action.failed': 'An action failed at the vendor (with the vendor’s words); it can be retried by hand',
  'action.expired': 'An action waiting for approval was not approved in time; it is never sent',
} as const

export type EventType = keyof typeof EVENT_TYPES

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(EVENT_TYPES, type)
}

/**
 * Whether a subscription entry is valid: a catalog type, `*`, or a prefix wildcard such as `alert.*` or
 * `remote.session.*` that matches at least one catalog type.
 */
export function isValidSubscription(entry: string): boolean {
  if (entry === '*' || isEventType(entry)) return true
  if (!entry.endsWith('.*')) return false
  const prefix = entry.slice(0, -1)
  return Object.keys(EVENT_TYPES).some((t) => t.startsWith(prefix))
}

/** The same rule the fan-out SQL applies (kept in step with `subscriptionMatchSql`). */
export function subscriptionMatches(entries: readonly string[], type: string): boolean {
  return entries.some((p) => p === type || p === '*' || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))))
}

/** SQL condition: the text[] column `col` subscribes to the event type expression `typeExpr`. */
export function subscriptionMatchSql(col: string, typeExpr: string): string {
  return `EXISTS (SELECT 1 FROM unnest(${col}) p WHERE p = ${typeExpr} OR p = '*' OR (right(p, 2) = '.*' AND starts_with(${typeExpr}, left(p, -1))))`
}
