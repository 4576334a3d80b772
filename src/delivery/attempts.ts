import { and, asc, eq } from 'drizzle-orm'
import type { Executor } from '../store/db.ts'
import { deliveryAttempts } from '../store/schema/index.ts'

/** One attempt on a delivery's timeline. */
export interface AttemptRecord {
  attempt: number
  at: Date | null
  outcome: 'delivered' | 'retry' | 'failed'
  responseStatus: number | null
  responseBody: string | null
  responseTimeMs: number | null
  errorMessage: string | null
  /** As sent, secrets masked; null where it was not kept (a success, or an attempt recorded before 0023). */
  requestHeaders: Record<string, string> | null
}

/** The delivery fields the timeline is completed from: its last attempt's outcome is on the history row. */
export interface DeliveryOutcome {
  id: string
  orgId: string
  status: string
  attempts: number
  responseStatus: number | null
  responseBody: string | null
  responseTimeMs: number | null
  errorMessage: string | null
  updatedAt: Date | null
  deliveredAt: Date | null
}

/**
 * A delivery's attempts, first to last: those kept in `delivery_attempts` (every attempt that did not deliver),
 * and the last one from the history row when it is not among them (the success, which is kept nowhere else, or
 * an attempt made before attempts were kept). Tenant-scoped by the delivery's organization.
 */
export async function deliveryTimeline(db: Executor, d: DeliveryOutcome): Promise<AttemptRecord[]> {
  const kept = await db
    .select()
    .from(deliveryAttempts)
    .where(and(eq(deliveryAttempts.orgId, d.orgId), eq(deliveryAttempts.deliveryId, d.id)))
    .orderBy(asc(deliveryAttempts.attempt))
  const out: AttemptRecord[] = kept.map((a) => ({
    attempt: a.attempt,
    at: a.at,
    outcome: a.attempt === d.attempts && d.status === 'failed' ? 'failed' : 'retry',
    responseStatus: a.responseStatus,
    responseBody: a.responseBody,
    responseTimeMs: a.responseTimeMs,
    errorMessage: a.errorMessage,
    requestHeaders: headersOf(a.requestHeaders),
  }))
  const finished = d.status === 'delivered' || d.status === 'failed' || d.status === 'retrying'
  if (finished && d.attempts > 0 && !kept.some((a) => a.attempt === d.attempts)) {
    out.push({
      attempt: d.attempts,
      at: d.deliveredAt ?? d.updatedAt,
      outcome: d.status === 'delivered' ? 'delivered' : d.status === 'failed' ? 'failed' : 'retry',
      responseStatus: d.responseStatus,
      responseBody: d.responseBody,
      responseTimeMs: d.responseTimeMs,
      errorMessage: d.errorMessage,
      requestHeaders: null,
    })
  }
  return out
}

function headersOf(v: unknown): Record<string, string> | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null
  const out: Record<string, string> = {}
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x
  return out
}
