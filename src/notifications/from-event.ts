import type { Notification, NotificationFact, Severity } from '../connectors/shared/notification.ts'
import { truncate } from '../connectors/shared/notification-text.ts'
import { isSecretKey } from '../lib/redact.ts'

/** A Patchbay event as it is delivered (the webhooks seed's payload format). */
export interface PatchbayEvent {
  id: string
  type: string
  orgId: string
  timestamp: string
  data: Record<string, unknown>
}

export interface NotificationOptions {
  /** PATCHBAY_CONSOLE_URL; links are added only when it is set. */
  consoleUrl?: string | undefined
  orgName?: string | undefined
  /** The channel's `channel` / `username` settings. */
  channel?: string | undefined
  username?: string | undefined
}

/** How each catalog event reads in a chat message: a label and what it means, from the webhooks seed. */
const EVENT_TEXT: Record<string, { label: string; description: string; severity: Severity }> = {
  'device.enrolled': {
    label: 'Device enrolled',
    description: 'A new agent has completed enrollment.',
    severity: 'info',
  },
  'device.online': {
    label: 'Device online',
    description: 'The device has come online (heartbeat received).',
    severity: 'ok',
  },
  'device.offline': {
    label: 'Device offline',
    description: 'The device has stopped sending heartbeats.',
    severity: 'warning',
  },
  'device.updated': {
    label: 'Device updated',
    description: 'Device metadata or configuration has changed.',
    severity: 'info',
  },
  'device.decommissioned': {
    label: 'Device decommissioned',
    description: 'The device has been decommissioned.',
    severity: 'info',
  },
  'device.telemetry': {
    label: 'Device telemetry',
    description: 'New telemetry from the device.',
    severity: 'info',
  },
  'alert.triggered': {
    label: 'Alert triggered',
    description: 'A monitoring rule has fired a new alert.',
    severity: 'warning',
  },
  'alert.acknowledged': {
    label: 'Alert acknowledged',
    description: 'The alert has been acknowledged by a user.',
    severity: 'info',
  },
  'alert.resolved': {
    label: 'Alert resolved',
    description: 'The alert condition has cleared.',
    severity: 'ok',
  },
  'alert.escalated': {
    label: 'Alert escalated',
    description: 'The alert has been escalated to a higher tier.',
    severity: 'warning',
  },
  'script.started': {
    label: 'Script started',
    description: 'Script execution has begun on the device.',
    severity: 'info',
  },
  'script.completed': {
    label: 'Script completed',
    description: 'Script execution finished successfully.',
    severity: 'ok',
  },
  'script.failed': { label: 'Script failed', description: 'Script execution failed.', severity: 'warning' },
  'automation.started': {
    label: 'Automation started',
    description: 'An automation workflow has begun.',
    severity: 'info',
  },
  'automation.completed': {
    label: 'Automation completed',
    description: 'An automation workflow completed successfully.',
    severity: 'ok',
  },
  'automation.failed': {
    label: 'Automation failed',
    description: 'An automation workflow failed.',
    severity: 'warning',
  },
  'policy.evaluated': {
    label: 'Policy evaluated',
    description: 'A configuration policy has been evaluated against the device.',
    severity: 'info',
  },
  'policy.violation': {
    label: 'Policy violation',
    description: 'The device is not compliant with a policy.',
    severity: 'warning',
  },
  'policy.compliant': {
    label: 'Policy compliant',
    description: 'The device has returned to compliance.',
    severity: 'ok',
  },
  'patch.available': {
    label: 'Patches available',
    description: 'New patches are available for the device.',
    severity: 'info',
  },
  'patch.approved': {
    label: 'Patch approved',
    description: 'A patch has been approved for installation.',
    severity: 'info',
  },
  'patch.installed': {
    label: 'Patch installed',
    description: 'A patch was installed successfully.',
    severity: 'ok',
  },
  'patch.failed': { label: 'Patch failed', description: 'A patch installation failed.', severity: 'warning' },
  'patch.rollback': {
    label: 'Patch rolled back',
    description: 'A patch has been rolled back.',
    severity: 'warning',
  },
  'security.score_changed': {
    label: 'Security score changed',
    description: "The device's security posture score has changed.",
    severity: 'info',
  },
  'remote.session.started': {
    label: 'Remote session started',
    description: 'A remote access session has begun.',
    severity: 'info',
  },
  'remote.session.ended': {
    label: 'Remote session ended',
    description: 'A remote access session has ended.',
    severity: 'info',
  },
  'remote.file.transferred': {
    label: 'File transferred',
    description: 'A file was transferred during a remote session.',
    severity: 'info',
  },
  'user.login': { label: 'User logged in', description: 'A user logged in.', severity: 'info' },
  'user.logout': { label: 'User logged out', description: 'A user logged out.', severity: 'info' },
  'session.login': {
    label: 'Device user session started',
    description: 'A device user session started.',
    severity: 'info',
  },
  'session.logout': {
    label: 'Device user session ended',
    description: 'A device user session ended.',
    severity: 'info',
  },
  'webhook.test': { label: 'Test event', description: 'A test event.', severity: 'info' },
}

/** Data fields the message already shows in its own places; the rest become facts. */
const SHOWN_FIELDS = new Set(['deviceId', 'hostname', 'deviceName', 'device', 'severity', 'orgId'])
const SHOWN_ALERT_FIELDS = new Set(['alertId', 'alertName', 'ruleName', 'alert', 'name', 'title', 'status'])
const TEXT_FIELDS = ['message', 'description', 'summary'] as const

const MAX_EXTRA_FACTS = 10
const MAX_FACT_VALUE = 200

/**
 * The chat message for an event. Alert events carry `data.severity` (critical|warning|info); device and alert
 * identity are read from the usual fields (`deviceId`/`hostname`, `alertId`/`alertName`, or nested `device` /
 * `alert` objects). Other scalar data fields are shown as facts (never secret-named ones). Pure.
 */
export function notificationFromEvent(event: PatchbayEvent, opts: NotificationOptions = {}): Notification {
  const data = event.data ?? {}
  const known = EVENT_TEXT[event.type]
  const label = known?.label ?? humanize(event.type)
  const device = obj(data.device)
  const alertObj = obj(data.alert)
  const hostname = str(data.hostname) ?? str(data.deviceName) ?? str(device?.hostname) ?? str(device?.name)
  const deviceId = str(data.deviceId) ?? str(device?.id)
  const alertId = str(data.alertId) ?? str(alertObj?.id)
  const isAlert = event.type.startsWith('alert.')
  const alertName =
    str(data.alertName) ??
    str(data.ruleName) ??
    str(alertObj?.name) ??
    str(alertObj?.title) ??
    (isAlert ? (str(data.title) ?? str(data.name)) : undefined)
  const alertStatus =
    str(data.status) ?? str(alertObj?.status) ?? (isAlert ? event.type.slice('alert.'.length) : undefined)
  const severity = severityOf(event, known?.severity ?? 'info')

  const title = titleFor(event.type, label, severity, alertName, hostname)
  const textField = TEXT_FIELDS.find((f) => str(data[f]) !== undefined)
  const text = (textField ? str(data[textField]) : undefined) ?? known?.description ?? `${label}.`

  const n: Notification = {
    title,
    text,
    severity,
    eventType: event.type,
    eventId: event.id,
    org: { id: event.orgId, ...(opts.orgName ? { name: opts.orgName } : {}) },
    occurredAt: event.timestamp,
  }
  if (hostname || deviceId)
    n.device = { ...(deviceId ? { id: deviceId } : {}), ...(hostname ? { hostname } : {}) }
  if (isAlert && (alertId || alertName || alertStatus)) {
    n.alert = {
      ...(alertId ? { id: alertId } : {}),
      ...(alertName ? { name: alertName } : {}),
      ...(alertStatus ? { status: alertStatus } : {}),
    }
  }
  const facts = extraFacts(
    data,
    (key) => SHOWN_FIELDS.has(key) || key === textField || (isAlert && SHOWN_ALERT_FIELDS.has(key)),
  )
  if (facts.length) n.facts = facts
  const link = consoleLink(opts.consoleUrl, { alertId: isAlert ? alertId : undefined, deviceId })
  if (link) n.link = link
  if (opts.channel) n.channel = opts.channel
  if (opts.username) n.username = opts.username
  return n
}

/** The message a `"test": true` request sends. */
export function testNotification(opts: NotificationOptions & { orgId: string; at: Date }): Notification {
  const n: Notification = {
    title: 'Test notification from Patchbay',
    text: 'If you can read this, Patchbay can post alerts to this channel.',
    severity: 'info',
    eventType: 'webhook.test',
    org: { id: opts.orgId, ...(opts.orgName ? { name: opts.orgName } : {}) },
    occurredAt: opts.at.toISOString(),
    test: true,
  }
  const link = consoleLink(opts.consoleUrl, {})
  if (link) n.link = link
  if (opts.channel) n.channel = opts.channel
  if (opts.username) n.username = opts.username
  return n
}

/** `critical|warning|info` from `data.severity` when given (any case); otherwise the event type's usual level. */
export function eventSeverity(event: { type: string; data?: unknown }): Severity | undefined {
  const raw = obj(event.data)?.severity
  if (typeof raw !== 'string') return undefined
  const s = raw.trim().toLowerCase()
  return s === 'critical' || s === 'warning' || s === 'info' || s === 'ok' ? s : undefined
}

function severityOf(event: PatchbayEvent, fallback: Severity): Severity {
  // A resolved alert is good news whatever severity it had.
  if (event.type === 'alert.resolved') return 'ok'
  return eventSeverity(event) ?? fallback
}

function titleFor(
  type: string,
  label: string,
  severity: Severity,
  alertName: string | undefined,
  hostname: string | undefined,
): string {
  const on = hostname ? ` on ${hostname}` : ''
  const sev = severity === 'ok' ? '' : `${severity[0]?.toUpperCase()}${severity.slice(1)} `
  if (type === 'alert.triggered') return alertName ? `${sev}alert: ${alertName}${on}` : `${sev}alert${on}`
  if (type === 'alert.escalated')
    return alertName ? `Escalated ${sev.toLowerCase()}alert: ${alertName}${on}` : `${label}${on}`
  if (type === 'alert.resolved') return alertName ? `Resolved: ${alertName}${on}` : `${label}${on}`
  if (type === 'alert.acknowledged') return alertName ? `Acknowledged: ${alertName}${on}` : `${label}${on}`
  return hostname ? `${label}: ${hostname}` : label
}

/**
 * A console link: the alert, else the device, else the console itself. The console's paths are
 * `/alerts/:id` and `/devices/:id` under PATCHBAY_CONSOLE_URL.
 */
export function consoleLink(
  consoleUrl: string | undefined,
  ids: { alertId?: string | undefined; deviceId?: string | undefined },
): string | undefined {
  if (!consoleUrl) return undefined
  let base: URL
  try {
    base = new URL(consoleUrl)
  } catch {
    return undefined
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') return undefined
  const root = base.href.replace(/\/+$/, '')
  if (ids.alertId) return `${root}/alerts/${encodeURIComponent(ids.alertId)}`
  if (ids.deviceId) return `${root}/devices/${encodeURIComponent(ids.deviceId)}`
  return root
}

function extraFacts(data: Record<string, unknown>, shown: (key: string) => boolean): NotificationFact[] {
  const facts: NotificationFact[] = []
  for (const [key, value] of Object.entries(data)) {
    if (facts.length >= MAX_EXTRA_FACTS) break
    if (shown(key) || isSecretKey(key)) continue
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue
    const text = String(value).trim()
    if (!text) continue
    facts.push({ name: humanize(key), value: truncate(text, MAX_FACT_VALUE) })
  }
  return facts
}

/** `lastSeen` → `Last seen`, `exit_code` → `Exit code`, `security.score_changed` → `Security score changed`. */
export function humanize(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[._-]+/g, ' ')
    .trim()
    .toLowerCase()
  return words ? `${words[0]?.toUpperCase()}${words.slice(1)}` : key
}

function str(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  return typeof v === 'string' && v.trim() ? v.trim() : undefined
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
}
