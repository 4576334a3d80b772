import { z } from '@hono/zod-openapi'
import type { AttemptRecord } from '../../delivery/attempts.ts'
import type { DeliveryRow } from '../../webhooks/store.ts'
import { DELIVERY_TOTAL_CAP } from '../../webhooks/store.ts'
import { iso, paginationSchema, timestamp, uuidSchema } from '../schemas.ts'

export const deliveryStatusEnum = z.enum(['pending', 'in_progress', 'retrying', 'delivered', 'failed'])

export const deliverySchema = z
  .object({
    id: z.uuid(),
    webhookId: z.uuid().nullable().openapi({ description: 'The webhook, for webhook deliveries' }),
    targetType: z.string().openapi({ description: '`webhook`, or the kind of integration delivery' }),
    targetId: z.uuid(),
    orgId: z.uuid(),
    status: deliveryStatusEnum,
    event: z.string().openapi({ example: 'alert.triggered' }),
    eventId: z.string(),
    payload: z.unknown().openapi({ description: "The event's data" }),
    responseStatus: z.number().int().nullable(),
    responseBody: z.string().nullable().openapi({ description: 'The first 1,000 characters' }),
    responseTimeMs: z.number().int().nullable(),
    errorMessage: z.string().nullable(),
    attempt: z.number().int().openapi({ description: 'Attempts made so far' }),
    nextAttemptAt: timestamp.nullable().openapi({
      description:
        'When it will be attempted, while it waits (`pending` or `retrying`). Null while it is held back because ' +
        "its target keeps failing (circuit open): then it goes as soon as the target's trial attempt succeeds, " +
        'see `heldUntil`.',
    }),
    heldUntil: timestamp.nullable().openapi({
      description:
        "Held back by its target's open circuit: attempted as soon as one trial delivery to the target gets " +
        'through, and at the latest at this time, unless the trial fails again (which holds it longer). Null otherwise.',
    }),
    retryOf: z.uuid().nullable().openapi({ description: 'The failed delivery this one retries' }),
    createdAt: timestamp,
    deliveredAt: timestamp.nullable(),
  })
  .openapi('Delivery')

export function toDelivery(d: DeliveryRow) {
  const waiting = d.status === 'pending' || d.status === 'retrying'
  return {
    id: d.id,
    webhookId: d.targetType === 'webhook' ? d.targetId : null,
    targetType: d.targetType,
    targetId: d.targetId,
    orgId: d.orgId,
    status: d.status,
    event: d.eventType,
    eventId: d.eventId,
    payload: d.payload ?? null,
    responseStatus: d.responseStatus,
    responseBody: d.responseBody,
    responseTimeMs: d.responseTimeMs,
    errorMessage: d.errorMessage,
    attempt: d.attempts,
    nextAttemptAt: waiting ? iso(d.nextAttemptAt) : null,
    heldUntil: waiting ? iso(d.heldUntil) : null,
    retryOf: d.retryOf,
    createdAt: iso(d.createdAt) as string,
    deliveredAt: iso(d.deliveredAt),
  }
}

export const deliveryAttemptSchema = z
  .object({
    attempt: z.number().int().openapi({ description: 'Counting from 1' }),
    at: timestamp.nullable().openapi({ description: 'When its outcome was recorded' }),
    outcome: z.enum(['delivered', 'retry', 'failed']).openapi({
      description:
        '`retry`: it did not get through and another attempt followed (or will); `failed`: the last one, given up',
    }),
    responseStatus: z.number().int().nullable(),
    responseBody: z.string().nullable().openapi({ description: 'The first 1,000 characters' }),
    responseTimeMs: z.number().int().nullable(),
    errorMessage: z.string().nullable(),
    requestHeaders: z
      .record(z.string(), z.string())
      .nullable()
      .openapi({
        description:
          "The request's headers as sent, custom header values masked (signatures, ids and timestamps are no " +
          'secret). Kept for the attempts that did not deliver; null for the successful one.',
      }),
  })
  .openapi('DeliveryAttempt')

export const deliveryDetailSchema = deliverySchema
  .extend({
    attempts: z.array(deliveryAttemptSchema).openapi({
      description:
        'Each attempt, first to last: every one that did not deliver is kept, and the last one is also the ' +
        "delivery's own `responseStatus`/`responseBody`/`errorMessage`",
    }),
  })
  .openapi('DeliveryDetail')

export function toAttempt(a: AttemptRecord) {
  return { ...a, at: iso(a.at) }
}

/** Keyset paging over the history, beside `page`: as fast a million rows deep as on the first page. */
export const deliveryCursorQuery = {
  cursor: uuidSchema.optional().openapi({
    description:
      'Continue after this delivery: the `nextCursor` of the previous page. `page` then counts from here.',
  }),
}

export const deliveryPageSchema = z
  .object({
    data: z.array(deliverySchema),
    pagination: paginationSchema,
    totalCapped: z.boolean().openapi({
      description: `\`pagination.total\` counts at most ${DELIVERY_TOTAL_CAP.toLocaleString('en-US')} deliveries; true when more match`,
    }),
    nextCursor: z
      .uuid()
      .nullable()
      .openapi({ description: 'Pass as `cursor` for the next page; null on the last page' }),
  })
  .openapi('DeliveryPage')

/** The list response: the page, the (capped) total, and the cursor of the next page. */
export function deliveryPage(
  items: DeliveryRow[],
  q: { page: number; limit: number },
  r: { total: number; totalCapped: boolean },
) {
  const last = items.length === q.limit ? items.at(-1) : undefined
  return {
    data: items.map(toDelivery),
    pagination: { page: q.page, limit: q.limit, total: r.total },
    totalCapped: r.totalCapped,
    nextCursor: last?.id ?? null,
  }
}
