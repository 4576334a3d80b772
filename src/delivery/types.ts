import type { z } from 'zod'
import type { RetryPolicy } from './policy.ts'

// The fan-out contract lives beside the event catalog so the context (context.ts) can carry the wired fan-outs
// without importing the engine; re-exported here for the engine and the targets.
export type { Fanout, StoredEvent } from '../events/fanout.ts'

export type DeliveryStatus = 'pending' | 'in_progress' | 'retrying' | 'delivered' | 'failed'

/** A delivery a worker holds the lease on, with its event. */
export interface ClaimedDelivery {
  id: string
  orgId: string
  targetType: string
  targetId: string
  eventId: string
  eventType: string
  operation: unknown
  /** This attempt's number, counting from 1. */
  attempt: number
  createdAt: Date
  event: ClaimedEvent
}

export interface ClaimedEvent {
  occurredAt: Date
  /** The event's data, parsed on first use. */
  readonly data: unknown
  /** The event's data as JSON text, as the database gave it: transports that forward it as is need not re-encode it. */
  readonly dataJson: string
}

/** An event whose data stays JSON text until something reads `data`. */
export function claimedEvent(occurredAt: Date, dataJson: string | null): ClaimedEvent {
  let parsed: unknown
  let done = false
  const json = dataJson ?? 'null'
  return {
    occurredAt,
    dataJson: json,
    get data() {
      if (!done) {
        parsed = JSON.parse(json)
        done = true
      }
      return parsed
    },
  }
}

/**
 * A delivery's `operation` (what its target kind does: a ticket action, an action id…), checked by that kind's zod
 * schema: the one place a transport reads it. Undefined when the stored value is not one; the transport fails the
 * delivery with its own message.
 */
export function operationOf<S extends z.ZodType>(
  schema: S,
  d: { operation: unknown },
): z.output<S> | undefined {
  const parsed = schema.safeParse(d.operation)
  return parsed.success ? parsed.data : undefined
}

/** What one attempt came to, as the transport judged it. */
export interface AttemptOutcome {
  kind: 'delivered' | 'retry' | 'failed'
  responseStatus?: number | undefined
  responseBody?: string | undefined
  responseTimeMs?: number | undefined
  errorMessage?: string | undefined
  /** The target asked to wait this long (Retry-After). */
  retryAfterMs?: number | undefined
  /**
   * The request's headers as sent, every secret value already masked by the transport: kept with an attempt that
   * did not deliver, for the delivery's timeline.
   */
  requestHeaders?: Record<string, string> | undefined
  /** The target is gone for good (410): the transport will disable it. */
  targetGone?: boolean | undefined
}

/** The recorded result of an attempt: the outcome, and the status the delivery moved to. */
export interface Settled {
  delivery: ClaimedDelivery
  outcome: AttemptOutcome
  status: 'delivered' | 'retrying' | 'failed'
  nextAttemptAt: Date | null
}

/**
 * How deliveries of one `target_type` are attempted: webhooks, chat messages, ticket operations. The engine
 * owns claiming, leases, retries and history; a transport only makes the attempt and judges the answer.
 */
export interface Transport {
  readonly type: string
  /** Loads what a batch of attempts needs (targets, secrets) in one go, before attempts start. */
  prepare?(batch: ClaimedDelivery[]): Promise<void>
  attempt(delivery: ClaimedDelivery): Promise<AttemptOutcome>
  /**
   * For targets that take several items in one request (monitoring forwards): called instead of `attempt` with
   * all of one target's deliveries from a claim (at most the per-target concurrency), oldest first; returns one
   * outcome per delivery, in order.
   */
  attemptBatch?(deliveries: ClaimedDelivery[]): Promise<AttemptOutcome[]>
  retryPolicy(delivery: ClaimedDelivery): RetryPolicy
  /** Runs after a batch of outcomes is recorded: target statistics, disabling failed targets. */
  settled?(results: Settled[]): Promise<void>
  /** Writes anything `settled` keeps in memory (statistics are written at most a few times a second). */
  flush?(): Promise<void>
}

export const DELIVERY_CHANNEL = 'patchbay_deliveries'
