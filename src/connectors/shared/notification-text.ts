import type { Notification, NotificationFact, Severity } from './notification.ts'

export const ELLIPSIS = '…'

/**
 * At most `max` UTF-16 code units, ending in an ellipsis when cut. Platforms count characters (code points);
 * code units are never fewer, so a string that fits here fits there. A surrogate pair is never split.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text
  if (max <= 0) return ''
  if (max === 1) return ELLIPSIS
  let cut = max - 1
  const last = text.charCodeAt(cut - 1)
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1
  return `${text.slice(0, cut)}${ELLIPSIS}`
}

/**
 * The text escaped and cut to at most `max` code units without breaking an escape sequence (`&amp;`, `\*`) in
 * two: it is escaped a character at a time (`escapeChar` sees the character before, for line-start rules) and cut
 * between characters.
 */
export function escapeAndTruncate(
  text: string,
  max: number,
  escapeChar: (ch: string, prev: string | undefined) => string,
): string {
  if (max <= 0) return ''
  const pieces: string[] = []
  let total = 0
  let prev: string | undefined
  let cut = false
  // Stops at the first character that does not fit, so a huge text costs no more than the limit.
  for (const ch of text) {
    const piece = escapeChar(ch, prev)
    prev = ch
    if (total + piece.length > max) {
      cut = true
      break
    }
    pieces.push(piece)
    total += piece.length
  }
  if (!cut) return pieces.join('')
  while (pieces.length && total + ELLIPSIS.length > max) total -= (pieces.pop() as string).length
  return `${pieces.join('')}${ELLIPSIS}`
}

export const SEVERITY_LABEL: Record<Severity, string> = {
  critical: 'Critical',
  warning: 'Warning',
  info: 'Info',
  ok: 'OK',
}

/** One colour per severity (RGB), used as Discord embed colour, Teams theme colour and Slack emoji choice. */
export const SEVERITY_COLOR: Record<Severity, number> = {
  critical: 0xd32f2f,
  warning: 0xf9a825,
  info: 0x1976d2,
  ok: 0x2e7d32,
}

export const SEVERITY_EMOJI: Record<Severity, string> = {
  critical: '🔴',
  warning: '🟠',
  info: '🔵',
  ok: '🟢',
}

export function hexColor(severity: Severity): string {
  return SEVERITY_COLOR[severity].toString(16).padStart(6, '0').toUpperCase()
}

/** The title as shown: test messages say so. */
export function displayTitle(n: Notification): string {
  const title = n.title.trim() || n.eventType
  return n.test && !/^\[test\]/i.test(title) ? `[Test] ${title}` : title
}

/** `2026-02-18 12:34:56 UTC`, or the text as given when it is not a date. */
export function formatUtc(iso: string): string {
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) return iso
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`
}

export function validIso(iso: string): string | undefined {
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString()
}

/**
 * The name/value lines every platform shows under the text, in order: severity, device, alert, status,
 * organization, event, then the notification's own facts. Empty values are left out (Discord refuses them).
 */
export function notificationFacts(n: Notification): NotificationFact[] {
  const facts: NotificationFact[] = [{ name: 'Severity', value: SEVERITY_LABEL[n.severity] }]
  const hostname = n.device?.hostname?.trim()
  const deviceId = n.device?.id?.trim()
  if (hostname || deviceId) {
    facts.push({
      name: 'Device',
      value:
        hostname && deviceId && hostname !== deviceId
          ? `${hostname} (${deviceId})`
          : (hostname ?? deviceId ?? ''),
    })
  }
  const alertName = n.alert?.name?.trim() || n.alert?.id?.trim()
  if (alertName) facts.push({ name: 'Alert', value: alertName })
  if (n.alert?.status?.trim()) facts.push({ name: 'Status', value: n.alert.status.trim() })
  facts.push({ name: 'Organization', value: n.org.name?.trim() || n.org.id })
  facts.push({ name: 'Event', value: n.eventType })
  for (const f of n.facts ?? []) facts.push({ name: f.name, value: f.value })
  return facts.filter((f) => f.name.trim() !== '' && f.value.trim() !== '')
}

/** A one-line plain-text summary, for notification previews and text fallbacks. */
export function summaryLine(n: Notification): string {
  const device = n.device?.hostname ?? n.device?.id
  const title = displayTitle(n)
  const parts = [`${SEVERITY_EMOJI[n.severity]} ${title}`]
  if (device && !title.includes(device)) parts.push(device)
  return parts.join(' · ')
}
