import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import type { AppContext } from '../context.ts'
import { classifyStatus, DEFAULT_RETRY_POLICY, type RetryPolicy } from '../delivery/policy.ts'
import type { AttemptOutcome, ClaimedDelivery, Settled, Transport } from '../delivery/types.ts'
import { OutboundError, UnsafeUrlError } from '../net/http-client.ts'
import { parseRetryAfter } from '../net/retry-after.ts'
import { recordAudit } from '../store/audit.ts'
import { maskHeaderValue, openHeaders, type WebhookHeader } from './headers.ts'
import { breezeHeaders, standardHeaders } from './signing.ts'

interface Target {
  id: string
  orgId: string
  url: string
  status: string
  scheme: string
  secrets: string[]
  headers: { key: string; value: string }[]
  retryPolicy: RetryPolicy
}

interface WebhookLoadRow {
  id: string
  org_id: string
  url: string
  status: string
  signature_scheme: string
  secret: string | null
  previous_secret: string | null
  previous_secret_expires_at: Date | null
  headers: unknown
  header_values: string | null
  retry_policy: RetryPolicy | null
}

/**
 * Outbound webhooks: a signed JSON POST per delivery. Webhooks are loaded once per claimed batch (so a pause or
 * a URL change applies from the next batch) and decrypted secrets are cached by ciphertext.
 */
export function webhookTransport(ctx: AppContext): Transport {
  const targets = new Map<string, Target>()
  const plaintext = new Map<string, string>()

  const open = (ciphertext: string, id: string, field: string) => {
    let value = plaintext.get(ciphertext)
    if (value === undefined) {
      value = ctx.vault.open(ciphertext, { table: 'webhooks', field, id })
      if (plaintext.size > 10_000) plaintext.clear()
      plaintext.set(ciphertext, value)
    }
    return value
  }
  // Header values are unsealed here only, to be sent; a row not sealed yet (before startup sealed it) still
  // holds them in plain text.
  const headersOf = (r: WebhookLoadRow): WebhookHeader[] =>
    r.header_values
      ? (JSON.parse(open(r.header_values, r.id, 'header_values')) as WebhookHeader[])
      : openHeaders(ctx.vault, { id: r.id, headers: r.headers, headerValues: null })

  const stats = new WebhookStats(ctx)

  return {
    type: 'webhook',

    async prepare(batch) {
      const ids = [...new Set(batch.map((d) => d.targetId))]
      const rows = await ctx.db.query<WebhookLoadRow>(
        `SELECT id, org_id, url, status, signature_scheme, secret, previous_secret, previous_secret_expires_at,
                headers, header_values, retry_policy
         FROM webhooks WHERE id = ANY($1::uuid[])`,
        [ids],
        'pb_load_webhooks',
      )
      const now = ctx.clock.now().getTime()
      for (const id of ids) targets.delete(id)
      for (const r of rows) {
        const secrets: string[] = []
        if (r.secret) secrets.push(open(r.secret, r.id, 'secret'))
        if (
          r.previous_secret &&
          r.previous_secret_expires_at &&
          r.previous_secret_expires_at.getTime() > now
        ) {
          secrets.push(open(r.previous_secret, r.id, 'previous_secret'))
        }
        targets.set(r.id, {
          id: r.id,
          orgId: r.org_id,
          url: r.url,
          status: r.status,
          scheme: r.signature_scheme,
          secrets,
          headers: headersOf(r),
          retryPolicy: r.retry_policy ?? DEFAULT_RETRY_POLICY,
        })
      }
    },

    async attempt(d: ClaimedDelivery): Promise<AttemptOutcome> {
      const w = targets.get(d.targetId)
      if (!w) return { kind: 'failed', errorMessage: 'Webhook no longer exists' }
      if (w.status !== 'active') return { kind: 'failed', errorMessage: `Webhook is ${w.status}; not sent` }
      // The documented envelope, with the event's data spliced in as the database stored it (no re-encoding).
      const body = `{"id":${JSON.stringify(d.eventId)},"type":${JSON.stringify(d.eventType)},"timestamp":"${d.event.occurredAt.toISOString()}","orgId":"${d.orgId}","data":${d.event.dataJson}}`
      const nowMs = ctx.clock.now().getTime()
      const signed =
        w.scheme === 'standard-webhooks'
          ? standardHeaders({ body, secrets: w.secrets, messageId: d.eventId, nowMs })
          : breezeHeaders({
              body,
              secret: w.secrets[0] ?? null,
              // The webhooks document: "Unique ID for this delivery attempt". A fresh id per attempt (also when a
              // lease expired and the same attempt number is sent again); receivers dedupe on X-Breeze-Event-Id.
              deliveryId: randomUUID(),
              eventId: d.eventId,
              eventType: d.eventType,
              nowMs,
            })
      // Custom headers come after the standard ones, as documented; reserved names were refused when saved.
      const headers: Record<string, string> = { ...signed }
      for (const h of w.headers) headers[h.key] = h.value
      // What a failed attempt's timeline shows as sent: the custom headers' values masked as the API shows them.
      const requestHeaders: Record<string, string> = { ...signed }
      for (const h of w.headers) requestHeaders[h.key] = maskHeaderValue(h.value)
      try {
        const res = await ctx.http.request({
          method: 'POST',
          url: w.url,
          headers,
          body,
          timeoutMs: ctx.config.PATCHBAY_DELIVERY_TIMEOUT_MS,
          // Signatures, ids and timestamps are no secret; the custom headers' values are, and the client removes
          // them (in every encoded form) from the response body before it is stored and shown.
          publicHeaders: Object.keys(signed),
          keepResponseChars: 1000,
          maxResponseBytes: 256 * 1024,
        })
        const base = {
          responseStatus: res.status,
          responseBody: res.body,
          responseTimeMs: res.timeMs,
          requestHeaders,
        }
        switch (classifyStatus(res.status)) {
          case 'delivered':
            return { kind: 'delivered', ...base }
          case 'gone':
            return { kind: 'failed', ...base, targetGone: true, errorMessage: 'Endpoint answered 410 Gone' }
          case 'permanent':
            return { kind: 'failed', ...base, errorMessage: `Endpoint answered ${res.status}; not retried` }
          case 'retry':
            return {
              kind: 'retry',
              ...base,
              errorMessage:
                res.status >= 300 && res.status < 400
                  ? `Endpoint answered ${res.status} (redirects are not followed)`
                  : `Endpoint answered ${res.status}`,
              retryAfterMs: parseRetryAfter(res.headers['retry-after'], ctx.clock.now()),
            }
        }
      } catch (err) {
        if (err instanceof UnsafeUrlError)
          return { kind: 'failed', errorMessage: `Unsafe webhook URL: ${err.message}` }
        if (err instanceof OutboundError)
          return { kind: 'retry', errorMessage: err.message, responseTimeMs: err.timeMs, requestHeaders }
        throw err
      }
    },

    retryPolicy(d) {
      return targets.get(d.targetId)?.retryPolicy ?? DEFAULT_RETRY_POLICY
    },

    async settled(results: Settled[]) {
      stats.add(results)
      // Dead letters may take a webhook out of service: write those at once. Successes can wait a moment.
      if (
        results.some((r) => r.status === 'failed') ||
        performance.now() - stats.lastWrite >= STATS_EVERY_MS
      ) {
        await stats.write()
      } else stats.schedule()
    },

    flush() {
      return stats.write()
    },
  }
}

/** Statistics are written at most this often while deliveries succeed, so they cost one statement per period. */
const STATS_EVERY_MS = 250

/** Outcomes waiting to be added to the webhooks' counters, merged per webhook in order. */
class WebhookStats {
  #pending: Settled[] = []
  #timer: NodeJS.Timeout | undefined
  #writing: Promise<void> = Promise.resolve()
  lastWrite = 0
  constructor(private readonly ctx: AppContext) {}

  add(results: Settled[]): void {
    for (const r of results) this.#pending.push(r)
  }

  schedule(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined
      void this.write().catch((err) => this.ctx.log.error({ err }, 'could not write webhook statistics'))
    }, STATS_EVERY_MS)
  }

  /** Writes what is pending; writes never overlap, so counters and the failure threshold see outcomes in order. */
  write(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const run = this.#writing
      .catch(() => undefined)
      .then(async () => {
        const batch = this.#pending
        this.#pending = []
        this.lastWrite = performance.now()
        if (batch.length > 0) await recordWebhookOutcomes(this.ctx, batch)
      })
    this.#writing = run
    return run
  }
}

interface Tally {
  delivered: number
  failed: number
  /** Dead-lettered deliveries after the batch's last success, when it had one. */
  failedAfterSuccess: number
  gone: boolean
}

/**
 * Success and failure counters, last delivery times, and the rules that take a webhook out of service: a 410,
 * or more consecutive dead-lettered deliveries than PATCHBAY_WEBHOOK_FAILURE_THRESHOLD (a success resets the
 * count). Either marks it `failed` with an audit entry.
 */
async function recordWebhookOutcomes(ctx: AppContext, results: Settled[]): Promise<void> {
  const tallies = new Map<string, Tally>()
  for (const r of results) {
    const t = tallies.get(r.delivery.targetId) ?? {
      delivered: 0,
      failed: 0,
      failedAfterSuccess: 0,
      gone: false,
    }
    if (r.status === 'delivered') {
      t.delivered++
      t.failedAfterSuccess = 0
    } else if (r.status === 'failed') {
      t.failed++
      t.failedAfterSuccess++
    }
    if (r.outcome.targetGone) t.gone = true
    tallies.set(r.delivery.targetId, t)
  }
  const ids = [...tallies.keys()]
  const now = ctx.clock.now()
  const updated = await ctx.db.query<{
    id: string
    org_id: string
    consecutive_failures: number
    status: string
  }>(
    `UPDATE webhooks w
     SET success_count = w.success_count + v.delivered,
         failure_count = w.failure_count + v.failed,
         consecutive_failures = CASE WHEN v.delivered > 0 THEN v.after_success ELSE w.consecutive_failures + v.failed END,
         last_delivery_at = $5,
         last_success_at = CASE WHEN v.delivered > 0 THEN $5 ELSE w.last_success_at END
     FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[]) AS v(id, delivered, failed, after_success)
     WHERE w.id = v.id
     RETURNING w.id, w.org_id, w.consecutive_failures, w.status`,
    [
      ids,
      ids.map((id) => tallies.get(id)?.delivered ?? 0),
      ids.map((id) => tallies.get(id)?.failed ?? 0),
      ids.map((id) => tallies.get(id)?.failedAfterSuccess ?? 0),
      now,
    ],
    'pb_webhook_stats',
  )
  const threshold = ctx.config.PATCHBAY_WEBHOOK_FAILURE_THRESHOLD
  for (const w of updated) {
    if (w.status !== 'active') continue
    const gone = tallies.get(w.id)?.gone ?? false
    if (!gone && w.consecutive_failures < threshold) continue
    const reason = gone
      ? 'endpoint answered 410 Gone'
      : `${w.consecutive_failures} consecutive deliveries failed (threshold ${threshold})`
    await ctx.db.orm.transaction(async (tx) => {
      const changed = await tx.execute(
        sql`UPDATE webhooks SET status = 'failed', updated_at = ${now}
          WHERE id = ${w.id} AND status = 'active' RETURNING id`,
      )
      if ((changed as unknown as { rows: unknown[] }).rows.length === 0) return
      await recordAudit(
        tx,
        {
          actor: { type: 'system', name: 'delivery-worker' },
          orgId: w.org_id,
          action: 'webhook.disable',
          targetType: 'webhook',
          targetId: w.id,
          summary: { status: 'failed', reason },
        },
        now,
      )
    })
    ctx.log.warn({ webhookId: w.id, reason }, 'webhook marked failed')
  }
}
