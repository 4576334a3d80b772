import { z } from '@hono/zod-openapi'
import { sql } from 'drizzle-orm'
import type { AppContext } from '../context.ts'
import { DEFAULT_RETRY_POLICY, type RetryPolicy, retryPolicySchema } from '../delivery/policy.ts'
import { isEventType, isValidSubscription } from '../events/catalog.ts'
import { ApiError, type ErrorDetail } from '../lib/errors.ts'
import { newId } from '../lib/ids.ts'
import { UnsafeUrlError } from '../net/http-client.ts'
import { type Actor, recordAudit } from '../store/audit.ts'
import { deliveries, events as eventsTable } from '../store/schema/delivery.ts'
import { isMaskedForm, resolveHeaders, sealHeaders, shownHeaders } from './headers.ts'
import {
  generateStandardSecret,
  isReservedHeader,
  isStandardSecret,
  type SignatureScheme,
} from './signing.ts'
import { deleteWebhook, insertWebhook, updateWebhook, type WebhookRow } from './store.ts'

const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

export const webhookHeaderSchema = z.strictObject({
  key: z.string().min(1).max(256).regex(HEADER_NAME_RE, 'must be a valid HTTP header name'),
  value: z
    .string()
    .max(4096)
    .regex(/^[^\r\n\0]*$/, 'must not contain line breaks'),
})

export const webhookFields = {
  name: z.string().trim().min(1).max(255),
  url: z.string().trim().min(1).max(2048),
  secret: z.string().min(8, 'must be at least 8 characters').max(512),
  // The event and header checks live in the schema (not only in the service) so a request's other problems, an
  // unknown field among them, are reported with them in one 422.
  events: z
    .array(
      z
        .string()
        .min(1)
        .max(100)
        .refine(isValidSubscription, { error: (issue) => unknownEventMessage(String(issue.input)) }),
    )
    .min(1, 'subscribe to at least one event type')
    .max(100),
  headers: z
    .array(webhookHeaderSchema)
    .max(50)
    .superRefine((list, ctx) => {
      for (const p of headerListProblems(list)) {
        ctx.addIssue({ code: 'custom', path: [p.index, 'key'], message: p.message })
      }
    }),
  retryPolicy: retryPolicySchema,
  signatureScheme: z.enum(['breeze', 'standard-webhooks']),
}

export interface WebhookInput {
  name: string
  url: string
  secret?: string | null | undefined
  events: string[]
  headers: { key: string; value: string }[]
  retryPolicy?: RetryPolicy | null | undefined
  signatureScheme: SignatureScheme
}

function unknownEventMessage(e: string): string {
  return `Unknown event type "${e}" (see GET /api/v1/event-types)`
}

function checkEvents(list: string[]): ErrorDetail[] {
  return list.flatMap((e, i) =>
    isValidSubscription(e) ? [] : [{ path: `events.${i}`, message: unknownEventMessage(e) }],
  )
}

/** Reserved and repeated header names, by index: the schema and the service (for callers past HTTP) share it. */
function headerListProblems(list: readonly { key: string }[]): { index: number; message: string }[] {
  const seen = new Set<string>()
  return list.flatMap((h, index) => {
    const lower = h.key.toLowerCase()
    if (isReservedHeader(lower)) {
      return [{ index, message: `"${h.key}" is set by Patchbay and cannot be overridden` }]
    }
    if (seen.has(lower)) return [{ index, message: `"${h.key}" is listed twice` }]
    seen.add(lower)
    return []
  })
}

function checkHeaders(list: { key: string }[]): ErrorDetail[] {
  return headerListProblems(list).map((p) => ({ path: `headers.${p.index}.key`, message: p.message }))
}

function fail(details: ErrorDetail[]): never {
  throw new ApiError(
    422,
    'validation_failed',
    `Invalid request body: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`,
    details,
  )
}

async function checkUrl(ctx: AppContext, url: string): Promise<void> {
  try {
    await ctx.http.check(url)
  } catch (err) {
    if (err instanceof UnsafeUrlError) {
      throw new ApiError(422, 'invalid_url', `Invalid webhook URL: the URL ${err.message}`, [
        { path: 'url', message: err.message },
      ])
    }
    throw err
  }
}

export interface Change {
  actor: Actor
  requestId: string
}

/** Creates a webhook. With the standard-webhooks scheme and no secret, one is generated and returned once. */
export async function createWebhook(
  ctx: AppContext,
  orgId: string,
  input: WebhookInput,
  change: Change,
): Promise<{ webhook: WebhookRow; generatedSecret?: string }> {
  const problems = [...checkEvents(input.events), ...checkHeaders(input.headers)]
  // Nothing is stored yet, so a masked value here cannot mean "keep": it is refused.
  problems.push(...resolveHeaders(ctx.vault, undefined, input.headers).problems)
  let secret = input.secret ?? null
  let generatedSecret: string | undefined
  if (input.signatureScheme === 'standard-webhooks') {
    if (secret === null) secret = generatedSecret = generateStandardSecret()
    else if (!isStandardSecret(secret)) {
      problems.push({
        path: 'secret',
        message: 'a standard-webhooks secret is "whsec_" + base64 of 24-64 bytes',
      })
    }
  }
  if (problems.length > 0) fail(problems)
  await checkUrl(ctx, input.url)
  const now = ctx.clock.now()
  const id = newId(now.getTime())
  const webhook = await ctx.db.orm.transaction(async (tx) => {
    const created = await insertWebhook(tx, {
      id,
      orgId,
      name: input.name,
      url: input.url,
      secret: secret === null ? null : ctx.vault.seal(secret, { table: 'webhooks', field: 'secret', id }),
      signatureScheme: input.signatureScheme,
      events: [...new Set(input.events)],
      ...sealHeaders(ctx.vault, id, input.headers),
      retryPolicy: input.retryPolicy ?? null,
      status: 'active',
      createdByKeyId: change.actor.type === 'api_key' ? change.actor.keyId : null,
      createdAt: now,
      updatedAt: now,
    })
    await recordAudit(
      tx,
      {
        actor: change.actor,
        orgId,
        action: 'webhook.create',
        targetType: 'webhook',
        targetId: id,
        summary: {
          name: input.name,
          url: input.url,
          events: input.events,
          hasSecret: secret !== null,
          signatureScheme: input.signatureScheme,
          headers: input.headers.map((h) => h.key),
        },
        requestId: change.requestId,
      },
      now,
    )
    return created
  })
  return generatedSecret ? { webhook, generatedSecret } : { webhook }
}

export interface WebhookPatch {
  name?: string | undefined
  url?: string | undefined
  secret?: string | null | undefined
  events?: string[] | undefined
  headers?: { key: string; value: string }[] | undefined
  status?: 'active' | 'paused' | 'failed' | undefined
  retryPolicy?: RetryPolicy | null | undefined
  signatureScheme?: SignatureScheme | undefined
}

/**
 * The destination rule for webhooks (the same as integrations' credentials): custom header values are
 * credentials in practice, so they are only sent to the URL they were saved with. A PATCH that moves the URL
 * must give every stored header value again in full (or drop the headers); keeping one by its masked form, or
 * leaving `headers` out, is refused, so a key allowed to edit a webhook cannot redirect its stored Authorization.
 */
function headersForNewUrl(current: WebhookRow, patch: WebhookPatch): ErrorDetail[] {
  if (patch.url === undefined || patch.url === current.url) return []
  const stored = shownHeaders(current.headers)
  if (stored.length === 0) return []
  if (!patch.headers) {
    return [
      {
        path: 'headers',
        message: `must be given again, with their real values (${stored.map((h) => h.key).join(', ')}), when the url changes: a stored header value is only sent to the URL it was saved with`,
      },
    ]
  }
  return patch.headers.flatMap((h, i) =>
    isMaskedForm(h.value)
      ? [
          {
            path: `headers.${i}.value`,
            message: `must be the real value, not its masked form, when the url changes: a stored header value is only sent to the URL it was saved with`,
          },
        ]
      : [],
  )
}

/** How long a replaced standard-webhooks secret keeps signing beside the new one. */
export const SECRET_OVERLAP_MS = 24 * 3_600_000

export async function patchWebhook(
  ctx: AppContext,
  current: WebhookRow,
  patch: WebhookPatch,
  change: Change,
): Promise<WebhookRow> {
  const scheme = patch.signatureScheme ?? (current.signatureScheme as SignatureScheme)
  const problems = [...checkEvents(patch.events ?? []), ...checkHeaders(patch.headers ?? [])]
  const headers = patch.headers && resolveHeaders(ctx.vault, current, patch.headers)
  if (headers) problems.push(...headers.problems)
  problems.push(...headersForNewUrl(current, patch))
  if (scheme === 'standard-webhooks') {
    if (patch.secret === null || (patch.secret === undefined && current.secret === null)) {
      problems.push({ path: 'secret', message: 'the standard-webhooks scheme needs a secret' })
    } else if (typeof patch.secret === 'string' && !isStandardSecret(patch.secret)) {
      problems.push({
        path: 'secret',
        message: 'a standard-webhooks secret is "whsec_" + base64 of 24-64 bytes',
      })
    } else if (patch.secret === undefined && patch.signatureScheme && current.secret) {
      const existing = ctx.vault.open(current.secret, { table: 'webhooks', field: 'secret', id: current.id })
      if (!isStandardSecret(existing)) {
        problems.push({ path: 'secret', message: 'switching to standard-webhooks needs a "whsec_" secret' })
      }
    }
  }
  if (problems.length > 0) fail(problems)
  if (patch.url !== undefined) await checkUrl(ctx, patch.url)
  const now = ctx.clock.now()
  const set: Partial<WebhookRow> = { updatedAt: now }
  if (patch.name !== undefined) set.name = patch.name
  if (patch.url !== undefined) set.url = patch.url
  if (patch.events !== undefined) set.events = [...new Set(patch.events)]
  if (headers) Object.assign(set, sealHeaders(ctx.vault, current.id, headers.headers))
  if (patch.retryPolicy !== undefined) set.retryPolicy = patch.retryPolicy
  if (patch.signatureScheme !== undefined) set.signatureScheme = patch.signatureScheme
  if (patch.status !== undefined) {
    set.status = patch.status
    if (patch.status === 'active') set.consecutiveFailures = 0
  }
  if (patch.secret !== undefined) {
    set.secret =
      patch.secret === null
        ? null
        : ctx.vault.seal(patch.secret, { table: 'webhooks', field: 'secret', id: current.id })
    // Zero-downtime rotation: receivers have a day to switch while both secrets sign.
    if (scheme === 'standard-webhooks' && current.secret && patch.secret !== null) {
      const old = ctx.vault.open(current.secret, { table: 'webhooks', field: 'secret', id: current.id })
      set.previousSecret = ctx.vault.seal(old, {
        table: 'webhooks',
        field: 'previous_secret',
        id: current.id,
      })
      set.previousSecretExpiresAt = new Date(now.getTime() + SECRET_OVERLAP_MS)
    } else {
      set.previousSecret = null
      set.previousSecretExpiresAt = null
    }
  }
  return ctx.db.orm.transaction(async (tx) => {
    const updated = await updateWebhook(tx, current.orgId, current.id, set)
    if (!updated) throw ApiError.notFound('Webhook')
    await recordAudit(
      tx,
      {
        actor: change.actor,
        orgId: current.orgId,
        action: 'webhook.update',
        targetType: 'webhook',
        targetId: current.id,
        summary: {
          changed: Object.keys(patch).filter((k) => patch[k as keyof WebhookPatch] !== undefined),
          ...(patch.status ? { status: patch.status } : {}),
          ...(patch.url ? { url: patch.url } : {}),
          ...(patch.events ? { events: patch.events } : {}),
          ...(patch.secret !== undefined ? { secretRotated: true } : {}),
        },
        requestId: change.requestId,
      },
      now,
    )
    return updated
  })
}

export async function removeWebhook(ctx: AppContext, current: WebhookRow, change: Change): Promise<void> {
  const now = ctx.clock.now()
  await ctx.db.orm.transaction(async (tx) => {
    await deleteWebhook(tx, current.orgId, current.id)
    await recordAudit(
      tx,
      {
        actor: change.actor,
        orgId: current.orgId,
        action: 'webhook.delete',
        targetType: 'webhook',
        targetId: current.id,
        summary: { name: current.name, url: current.url },
        requestId: change.requestId,
      },
      now,
    )
  })
}

/**
 * A test delivery: an event of its own (so its payload is kept like any other) and one delivery to this webhook
 * only, through the same pipeline (signing, URL check, retries).
 */
export async function queueTestDelivery(
  ctx: AppContext,
  webhook: WebhookRow,
  input: { event?: string | undefined; payload?: Record<string, unknown> | undefined },
  change: Change,
): Promise<{ id: string; eventType: string }> {
  const type = input.event ?? 'webhook.test'
  if (!isEventType(type)) fail([{ path: 'event', message: `Unknown event type "${type}"` }])
  const now = ctx.clock.now()
  const eventId = newId(now.getTime())
  const data = input.payload ?? {
    message: 'Test delivery from Patchbay',
    timestamp: now.toISOString(),
    webhookId: webhook.id,
  }
  const deliveryId = newId(now.getTime())
  await ctx.db.orm.transaction(async (tx) => {
    await tx
      .insert(eventsTable)
      .values({ orgId: webhook.orgId, id: eventId, type, occurredAt: now, data, createdAt: now })
    await tx.insert(deliveries).values({
      id: deliveryId,
      orgId: webhook.orgId,
      targetType: 'webhook',
      targetId: webhook.id,
      eventId,
      eventType: type,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      createdAt: now,
      updatedAt: now,
    })
    await recordAudit(
      tx,
      {
        actor: change.actor,
        orgId: webhook.orgId,
        action: 'webhook.test',
        targetType: 'webhook',
        targetId: webhook.id,
        summary: { event: type, deliveryId },
        requestId: change.requestId,
      },
      now,
    )
    await tx.execute(sql`SELECT pg_notify('patchbay_deliveries', '')`)
  })
  return { id: deliveryId, eventType: type }
}

export function effectiveRetryPolicy(w: WebhookRow): RetryPolicy {
  return (w.retryPolicy as RetryPolicy | null) ?? DEFAULT_RETRY_POLICY
}
