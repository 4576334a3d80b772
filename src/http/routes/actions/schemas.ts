/** What the `/actions` routes share: the action as they show it, and who asks. */
import { z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { ActionCaller } from '../../../actions/service.ts'
import { ACTION_STATUSES, type ActionRow } from '../../../actions/store.ts'
import type { AppEnv } from '../../env.ts'
import { actorOf, type Principal } from '../../principal.ts'
import { iso, timestamp } from '../../schemas.ts'

export const TAG = 'Actions'
export const statusEnum = z.enum(ACTION_STATUSES)

export const actionSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    integrationId: z.uuid(),
    provider: z.string(),
    action: z.string(),
    status: statusEnum,
    needsApproval: z.boolean(),
    input: z.unknown().openapi({ description: "The input as given, the action's sensitive fields masked" }),
    preview: z.unknown().nullable().openapi({
      description:
        "`{ok: true, vendor}` with the vendor's dry run or validation, or `{ok: false, error, status}`",
    }),
    requestedBy: z.uuid().nullable().openapi({ description: 'The API key that asked' }),
    approvedBy: z.uuid().nullable(),
    approvedAt: timestamp.nullable(),
    rejectedBy: z.uuid().nullable(),
    rejectedAt: timestamp.nullable(),
    rejectReason: z.string().nullable(),
    expiresAt: timestamp.nullable().openapi({ description: 'Pending approval until then; expired after' }),
    deliveryId: z.uuid().nullable().openapi({ description: 'The delivery carrying the latest run' }),
    result: z
      .object({ status: z.number().int(), body: z.string().nullable(), vendorRef: z.string().nullable() })
      .nullable(),
    error: z.string().nullable().openapi({ description: "The vendor's words when it failed" }),
    createdAt: timestamp,
    updatedAt: timestamp,
    completedAt: timestamp.nullable(),
  })
  .openapi('Action')

export function toAction(r: ActionRow) {
  return {
    id: r.id,
    orgId: r.orgId,
    integrationId: r.integrationId,
    provider: r.provider,
    action: r.action,
    status: r.status as z.infer<typeof statusEnum>,
    needsApproval: r.needsApproval,
    input: r.input,
    preview: r.preview ?? null,
    requestedBy: r.requestedByKeyId,
    approvedBy: r.approvedByKeyId,
    approvedAt: iso(r.approvedAt),
    rejectedBy: r.rejectedByKeyId,
    rejectedAt: iso(r.rejectedAt),
    rejectReason: r.rejectReason,
    expiresAt: iso(r.expiresAt),
    deliveryId: r.deliveryId,
    result:
      r.resultStatus === null ? null : { status: r.resultStatus, body: r.resultBody, vendorRef: r.vendorRef },
    error: r.errorMessage,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    completedAt: iso(r.completedAt),
  }
}

export function callerOf(c: Context<AppEnv>): ActionCaller {
  const p: Principal = c.var.principal
  return { keyId: p.keyId, scope: p.scope, actor: actorOf(p), requestId: c.var.requestId }
}
