/** What the `/webhooks` routes share: the webhook as they show it, and loading one the key reaches. */
import { z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { AppContext } from '../../../context.ts'
import { retryPolicySchema } from '../../../delivery/policy.ts'
import { shownHeaders } from '../../../webhooks/headers.ts'
import { effectiveRetryPolicy, webhookFields, webhookHeaderSchema } from '../../../webhooks/service.ts'
import { getWebhook, type WebhookRow } from '../../../webhooks/store.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { actorOf, type Principal, scopeOf } from '../../principal.ts'
import { iso, timestamp } from '../../schemas.ts'

export const statusEnum = z.enum(['active', 'paused', 'failed'])

export const webhookSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    name: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    headers: z.array(webhookHeaderSchema).openapi({
      description:
        'Custom headers, each value masked: `****` and its last four characters (only `****` when shorter than 13)',
    }),
    status: statusEnum,
    hasSecret: z.boolean(),
    signatureScheme: webhookFields.signatureScheme,
    retryPolicy: retryPolicySchema.openapi({ description: 'The policy in force (the default unless set)' }),
    createdAt: timestamp,
    updatedAt: timestamp,
    lastDeliveryAt: timestamp.nullable(),
  })
  .openapi('Webhook')

export function toWebhook(w: WebhookRow) {
  return {
    id: w.id,
    orgId: w.orgId,
    name: w.name,
    url: w.url,
    events: w.events,
    headers: shownHeaders(w.headers),
    status: w.status,
    hasSecret: w.secret !== null,
    signatureScheme: w.signatureScheme as 'breeze' | 'standard-webhooks',
    retryPolicy: effectiveRetryPolicy(w),
    createdAt: iso(w.createdAt) as string,
    updatedAt: iso(w.updatedAt) as string,
    lastDeliveryAt: iso(w.lastDeliveryAt),
  }
}

/** The webhook, if the key reaches it; else 404. */
export async function loadWebhook(ctx: AppContext, p: Principal, id: string) {
  const w = await getWebhook(ctx.db.orm, scopeOf(p), id)
  if (!w) throw ApiError.notFound('Webhook')
  return w
}

/** Who changes the webhook, for the audit log. */
export const changeOf = (c: Context<AppEnv>) => ({
  actor: actorOf(c.var.principal),
  requestId: c.var.requestId,
})
