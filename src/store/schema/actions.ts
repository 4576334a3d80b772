import { boolean, index, integer, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { at, orgId, timestamps } from './columns.ts'
import { integrations } from './integrations.ts'
import { orgs } from './tenancy.ts'

/**
 * Writes at a vendor a caller asked for (README, "Actions and approvals"). One that needs approval waits in
 * `pending_approval` until a second key approves it; then (or at once, when it needs none) it is `queued` as a
 * delivery (`target_type` `action`) and moves through `running` to `completed` or `failed`. `rejected` and
 * `expired` are final and were never sent. The row id is the idempotency key of every attempt.
 */
export const actions = pgTable(
  'actions',
  {
    id: uuid('id').primaryKey(),
    orgId: orgId(),
    integrationId: uuid('integration_id')
      .notNull()
      .references(() => integrations.id),
    provider: text('provider').notNull(),
    action: text('action').notNull(),
    /** The input as shown: the action's sensitive fields masked. */
    input: jsonb('input').notNull(),
    /** Vault ciphertext of the whole input, opened only to send it. */
    sealedInput: text('sealed_input').notNull(),
    needsApproval: boolean('needs_approval').notNull(),
    status: text('status').notNull(),
    /** What the vendor said it would do (or its refusal of the dry run), shown to the approver. */
    preview: jsonb('preview'),
    requestedByKeyId: uuid('requested_by_key_id'),
    requestedByScope: text('requested_by_scope'),
    approvedByKeyId: uuid('approved_by_key_id'),
    approvedAt: at('approved_at'),
    rejectedByKeyId: uuid('rejected_by_key_id'),
    rejectedAt: at('rejected_at'),
    rejectReason: text('reject_reason'),
    /** An action still pending approval at this time expires and is never sent. */
    expiresAt: at('expires_at'),
    /** The delivery carrying the latest run (a manual retry makes a new one). */
    deliveryId: uuid('delivery_id'),
    /** The vendor's answer to the attempt that succeeded, recorded before the outcome (a retry finds it). */
    resultStatus: integer('result_status'),
    resultBody: text('result_body'),
    vendorRef: text('vendor_ref'),
    errorMessage: text('error_message'),
    ...timestamps(),
    completedAt: at('completed_at'),
  },
  (t) => [index('actions_org_idx').on(t.orgId, t.createdAt), index('actions_pending_idx').on(t.expiresAt)],
)

/** Each attempt to send an action, with the vendor's answer; a row without `finished_at` was cut short. */
export const actionAttempts = pgTable(
  'action_attempts',
  {
    id: uuid('id').primaryKey(),
    actionId: uuid('action_id')
      .notNull()
      .references(() => actions.id, { onDelete: 'cascade' }),
    orgId: uuid('org_id').notNull(),
    deliveryId: uuid('delivery_id').notNull(),
    attempt: integer('attempt').notNull(),
    startedAt: at('started_at').notNull(),
    finishedAt: at('finished_at'),
    /** `completed`, `retry`, `failed`, or `found` (an earlier attempt's result, found by a look-up). */
    outcome: text('outcome'),
    responseStatus: integer('response_status'),
    responseBody: text('response_body'),
    errorMessage: text('error_message'),
  },
  (t) => [index('action_attempts_action_idx').on(t.actionId, t.startedAt)],
)

/** An organization's approval rule: `partner` means an organization's own keys cannot approve its actions. */
export const actionSettings = pgTable('action_settings', {
  orgId: uuid('org_id')
    .primaryKey()
    .references(() => orgs.id),
  approverScope: text('approver_scope').notNull().default('any'),
  updatedAt: at('updated_at').notNull(),
})
