import { eventSeverity } from './from-event.ts'

/**
 * `notifyOn` values that are not event types: an alert (`alert.triggered` or `alert.escalated`) of that
 * `data.severity` (API-NOTES "Events").
 */
export const SEVERITY_SELECTORS = ['alert.critical', 'alert.warning', 'alert.info'] as const
export type SeveritySelector = (typeof SEVERITY_SELECTORS)[number]

const ALERT_RAISING = new Set(['alert.triggered', 'alert.escalated'])

export function isSeveritySelector(value: string): value is SeveritySelector {
  return (SEVERITY_SELECTORS as readonly string[]).includes(value)
}

/**
 * Whether a channel whose settings say `notifyOn` wants this event. Each entry is an event type
 * (`device.offline`), a severity selector (`alert.critical`), or a wildcard (`alert.*`, `*`) as webhook
 * subscriptions allow. An empty list wants nothing.
 */
export function matchesNotifyOn(
  notifyOn: readonly string[],
  event: { type: string; data?: unknown },
): boolean {
  return notifyOn.some((entry) => matchesSelector(entry.trim(), event))
}

export function matchesSelector(selector: string, event: { type: string; data?: unknown }): boolean {
  if (!selector) return false
  if (isSeveritySelector(selector)) {
    return ALERT_RAISING.has(event.type) && eventSeverity(event) === selector.slice('alert.'.length)
  }
  if (selector === '*') return true
  if (selector.endsWith('.*')) return event.type.startsWith(selector.slice(0, -1))
  return selector === event.type
}
