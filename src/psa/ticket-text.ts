import { truncate } from '../connectors/shared/notification-text.ts'
import { notificationFromEvent, type PatchbayEvent } from '../notifications/from-event.ts'

/**
 * What tickets and notes say, from an alert event. Alert identity and wording follow the chat notifications
 * (`notificationFromEvent`): `alertId`/`alertName`/`ruleName`/`name`/`title`, `severity`, `deviceId`/`hostname`
 * (or nested `alert` / `device` objects), `message`/`description`/`summary`. Pure.
 */

function str(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  return typeof v === 'string' && v.trim() ? v.trim() : undefined
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
}

/** The alert an event is about, or undefined when it names none (such events create no tickets). */
export function alertIdOf(data: unknown): string | undefined {
  const d = obj(data)
  const id = str(d?.alertId) ?? str(obj(d?.alert)?.id)
  // The mapping table keys on it; an id this long is not an alert id.
  return id && id.length <= 200 ? id : undefined
}

export function deviceIdOf(data: unknown): string | undefined {
  const d = obj(data)
  const id = str(d?.deviceId) ?? str(obj(d?.device)?.id)
  return id && id.length <= 200 ? id : undefined
}

export interface TicketText {
  title: string
  description: string
}

function lines(...parts: (string | undefined | false)[]): string {
  return parts.filter((p): p is string => typeof p === 'string').join('\n')
}

/** Title and description of the ticket for an `alert.triggered` event. */
export function ticketText(event: PatchbayEvent, consoleUrl: string | undefined): TicketText {
  const n = notificationFromEvent(event, { consoleUrl })
  const data = obj(event.data) ?? {}
  const severity = str(data.severity)
  const device = n.device
  const deviceLine = device
    ? `Device: ${device.hostname ?? device.id}${device.hostname && device.id ? ` (${device.id})` : ''}`
    : undefined
  const description = lines(
    n.alert?.name ? `Alert: ${n.alert.name}` : undefined,
    severity ? `Severity: ${severity}` : undefined,
    deviceLine,
    `${event.type === 'alert.escalated' ? 'Escalated' : 'Triggered'}: ${event.timestamp}`,
    '',
    n.text,
    ...(n.facts?.length ? ['', ...n.facts.map((f) => `${f.name}: ${f.value}`)] : []),
    '',
    n.alert?.id ? `Alert ID: ${n.alert.id}` : undefined,
    n.link ? `Open in the console: ${n.link}` : undefined,
  )
  return { title: truncate(n.title, 255), description: truncate(description, 8000) }
}

/** "Alert escalated to Tier 2 (severity critical)": the tier and severity, where the event names them. */
function escalation(data: Record<string, unknown>): string {
  const to = str(data.escalatedTo) ?? str(data.tier) ?? str(data.level) ?? str(data.escalationLevel)
  const severity = str(data.severity) ?? str(obj(data.alert)?.severity)
  return `Alert escalated${to ? ` to ${to}` : ''}${severity ? ` (severity ${severity})` : ''}`
}

/** The internal note for `alert.acknowledged`, `alert.escalated` and `alert.resolved`. */
export function noteText(event: PatchbayEvent, consoleUrl: string | undefined): string {
  const n = notificationFromEvent(event, { consoleUrl })
  const data = obj(event.data) ?? {}
  const who =
    str(data.acknowledgedBy) ??
    str(data.resolvedBy) ??
    str(data.escalatedBy) ??
    str(data.userName) ??
    str(data.user) ??
    str(data.by)
  const what =
    event.type === 'alert.resolved'
      ? 'Alert resolved'
      : event.type === 'alert.escalated'
        ? escalation(data)
        : 'Alert acknowledged'
  const message = str(data.message) ?? str(data.note) ?? str(data.comment)
  return truncate(
    lines(
      `${what}${who ? ` by ${who}` : ''} at ${event.timestamp}.`,
      message ? '' : undefined,
      message,
      n.link ? '' : undefined,
      n.link ? `Open in the console: ${n.link}` : undefined,
    ),
    8000,
  )
}
