import { sql } from 'drizzle-orm'
import { index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { integrations } from './integrations.ts'
import { orgs } from './tenancy.ts'

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

/**
 * One alert's ticket in a PSA connection (an integration of category `psa`). The row exists from the moment the
 * alert is routed to the connection (`pending`), before the vendor has a ticket; the delivery that creates the
 * ticket claims it (`creating`, `claimed_by` + `claim_until`) so two attempts never create two tickets, and
 * fills in the external ticket (`created`). Ticket listings show only rows with an external ticket.
 */
export const psaTicketMappings = pgTable(
  'psa_ticket_mappings',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id),
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => integrations.id),
    /** The platform's alert id (`data.alertId` of the alert events). */
    alertId: text('alert_id').notNull(),
    deviceId: text('device_id'),
    externalTicketId: text('external_ticket_id'),
    /** The vendor's human-facing number or key (`OPS-12`, `INC0010001`) when it differs from the id. */
    externalTicketNumber: text('external_ticket_number'),
    externalTicketUrl: text('external_ticket_url'),
    /** The ticket's status as the vendor reports it, from the last operation or sync. */
    status: text('status'),
    title: text('title'),
    /** `pending` | `creating` | `created` | `failed` (creation refused for good; a new attempt may claim it). */
    state: text('state').notNull(),
    /** The alert's own state as Patchbay last heard it: `triggered` | `acknowledged` | `resolved`. */
    alertStatus: text('alert_status').notNull(),
    /**
     * The delivery creating the ticket (or, once it exists, adding a note or moving its status), and until when its
     * claim holds (then another attempt may take over).
     */
    claimedBy: uuid('claimed_by'),
    claimUntil: at('claim_until'),
    /** Why creation last failed (the vendor's message). */
    lastError: text('last_error'),
    /** The event whose note was added last, so a retried resolve does not add its note twice. */
    lastNoteEventId: text('last_note_event_id'),
    lastSyncAt: at('last_sync_at'),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('psa_ticket_mappings_alert_idx').on(t.connectionId, t.alertId),
    index('psa_ticket_mappings_org_idx').on(t.orgId, t.createdAt),
    index('psa_ticket_mappings_org_alert_idx').on(t.orgId, t.alertId),
    index('psa_ticket_mappings_ticket_idx').on(t.connectionId, t.externalTicketId),
  ],
)

/**
 * One sync of a PSA connection's ticket statuses into its mappings. Progress (phase, the connector's page cursor,
 * the last mapping checked) is saved after every page, so a sync stopped by a crash or a rate limit resumes where
 * it stopped. At most one queued or running sync per connection.
 */
export const psaSyncRuns = pgTable(
  'psa_sync_runs',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id),
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => integrations.id),
    /** `manual` (POST /psa/connections/:id/sync) or `scheduled`. */
    trigger: text('trigger').notNull(),
    /** `queued` | `running` | `completed` | `failed`. */
    status: text('status').notNull(),
    /** Tickets changed at or after this time are listed. */
    since: at('since'),
    /** `changes` (listing changed tickets), then `mapped` (fetching mapped tickets the listing did not show), `done`. */
    phase: text('phase').notNull(),
    /** The connector's cursor for the next page of changed tickets. */
    cursor: text('cursor'),
    /** The last mapping checked in the `mapped` phase (mappings are walked in id order). */
    mappedAfter: uuid('mapped_after'),
    pages: integer('pages').notNull().default(0),
    ticketsListed: integer('tickets_listed').notNull().default(0),
    mappingsChecked: integer('mappings_checked').notNull().default(0),
    mappingsUpdated: integer('mappings_updated').notNull().default(0),
    /** Mapped tickets the vendor no longer has (404). */
    ticketsMissing: integer('tickets_missing').notNull().default(0),
    error: text('error'),
    queuedAt: at('queued_at').notNull(),
    startedAt: at('started_at'),
    finishedAt: at('finished_at'),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('psa_sync_runs_active_idx')
      .on(t.connectionId)
      .where(sql`${t.status} IN ('queued', 'running')`),
    index('psa_sync_runs_connection_idx').on(t.connectionId, t.queuedAt),
  ],
)

/**
 * Alert events that reached Patchbay before their alert had a ticket (an acknowledgement or resolution sent
 * ahead of its `alert.triggered`, as retried or batched senders do). When the alert's ticket mapping is made,
 * those that happened at or after the trigger are delivered to it, so the ticket ends as it would have in order.
 * Kept for an hour (see psa/fanout.ts), org-wide: the connection is not known until the trigger is routed.
 */
export const psaEarlyAlertEvents = pgTable(
  'psa_early_alert_events',
  {
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id),
    eventId: text('event_id').notNull(),
    alertId: text('alert_id').notNull(),
    eventType: text('event_type').notNull(),
    occurredAt: at('occurred_at').notNull(),
    createdAt: at('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.eventId] }),
    index('psa_early_alert_events_alert_idx').on(t.orgId, t.alertId),
    index('psa_early_alert_events_created_idx').on(t.createdAt),
  ],
)
