import { index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core'

export const auditLogs = pgTable(
  'audit_logs',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id'),
    partnerId: uuid('partner_id'),
    /** The API key that made the change; null when Patchbay itself acted (a job, the scheduler, the CLI). */
    actorKeyId: uuid('actor_key_id'),
    actorType: text('actor_type').notNull(),
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: text('target_id'),
    /** What changed, with every secret-named field redacted before it is written. */
    summary: jsonb('summary').notNull(),
    requestId: text('request_id'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    index('audit_logs_org_time_idx').on(t.orgId, t.createdAt),
    index('audit_logs_partner_time_idx').on(t.partnerId, t.createdAt),
    index('audit_logs_action_idx').on(t.action, t.createdAt),
    index('audit_logs_target_idx').on(t.targetType, t.targetId),
    index('audit_logs_time_idx').on(t.createdAt),
  ],
)
