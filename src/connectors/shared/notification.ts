import { VendorError } from '../vendor-error.ts'

export const SEVERITIES = ['critical', 'warning', 'info', 'ok'] as const
export type Severity = (typeof SEVERITIES)[number]

/** One name/value line shown under the message (Slack section field, Discord embed field, Teams fact). */
export interface NotificationFact {
  name: string
  value: string
}

/**
 * A chat message, before any platform has shaped it. Built from an event by `notificationFromEvent` (or by
 * `testNotification`), rendered by each chat connector. Plain JSON, so it can ride in a delivery's payload.
 */
export interface Notification {
  title: string
  /** The body text, plain (each renderer escapes it for its platform's markup). */
  text: string
  severity: Severity
  /** The Patchbay event type (`alert.triggered`, `device.offline`, `webhook.test`…). */
  eventType: string
  eventId?: string | undefined
  org: { id: string; name?: string | undefined }
  device?: { id?: string | undefined; hostname?: string | undefined } | undefined
  alert?: { id?: string | undefined; name?: string | undefined; status?: string | undefined } | undefined
  /** ISO 8601. */
  occurredAt: string
  /** Where to look in the console; present only when PATCHBAY_CONSOLE_URL is configured. */
  link?: string | undefined
  /** Other facts worth showing (script name, exit code…), already stringified. */
  facts?: NotificationFact[] | undefined
  /** Per-message overrides of the channel's settings; platforms that cannot honour them ignore them. */
  channel?: string | undefined
  username?: string | undefined
  /** A test message sent on request (`"test": true`), not an event. */
  test?: boolean | undefined
}

/** What a platform answered when it accepted a message. */
export interface SendResult {
  status: number
  /** The platform's answer, secrets removed, at most 1,000 characters. */
  body: string
  timeMs: number
  /** Discord's message id (the message is sent with `?wait=true`). */
  messageId?: string | undefined
  /**
   * What is left of the platform's rate-limit window after this message, when it says (Discord's
   * X-RateLimit-Remaining / X-RateLimit-Reset-After), so the engine can hold the next message back.
   */
  rateLimit?: { remaining: number; resetAfterMs: number } | undefined
}

/**
 * A message was not accepted: the platform refused it (status and body as it answered, secrets removed), or it
 * could not be reached (no status). `retryAfterMs` is the platform's own wait for 429s (and 503s); `retryable`
 * (from VendorError) says whether trying again later can help. Nothing sleeps or retries here.
 */
export class NotificationError extends VendorError {
  override name = 'NotificationError'
  constructor(
    message: string,
    status?: number,
    retryAfterMs?: number,
    /** The platform's answer, secrets removed, at most 1,000 characters. */
    readonly responseBody?: string,
  ) {
    super(message, status, retryAfterMs)
  }
}
