import { index, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { integrations } from './integrations.ts'
import { orgs } from './tenancy.ts'

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

/**
 * Tickets the generic ticketing integration's `autoCreate` opened for alerts: one row per integration and alert,
 * claimed when the first `alert.triggered` of the alert is ingested (a unique key, so a repeated or re-triggered
 * alert never queues a second ticket), completed with the ticket's id and URL once the ticketing API created it.
 * The row id is the `Idempotency-Key` sent with every attempt, so a retry after a lost answer is recognisable.
 */
export const ticketingAlertTickets = pgTable(
  'ticketing_alert_tickets',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id),
    integrationId: uuid('integration_id')
      .notNull()
      .references(() => integrations.id),
    /** The alert's id (`data.alertId` or `data.alert.id`), or `event:<event id>` for an alert without one. */
    alertKey: text('alert_key').notNull(),
    /** The event that asked for the ticket. */
    eventId: text('event_id').notNull(),
    externalId: text('external_id'),
    externalUrl: text('external_url'),
    createdAt: at('created_at').notNull(),
    ticketCreatedAt: at('ticket_created_at'),
  },
  (t) => [
    uniqueIndex('ticketing_alert_tickets_alert_idx').on(t.integrationId, t.alertKey),
    index('ticketing_alert_tickets_org_idx').on(t.orgId, t.createdAt),
  ],
)
