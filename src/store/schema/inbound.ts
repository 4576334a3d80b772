import { sql } from 'drizzle-orm'
import { index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { integrations } from './integrations.ts'
import { orgs } from './tenancy.ts'

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

/**
 * Where a vendor sends its own events: one URL (`/hooks/<hook_id>`) and one secret per source. The secret is vault
 * ciphertext; after a rotation the previous one keeps verifying until `previous_secret_expires_at`.
 */
export const webhookSources = pgTable(
  'webhook_sources',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id),
    /** The inbound provider (a connector with an `inbound` module). */
    provider: text('provider').notNull(),
    integrationId: uuid('integration_id').references(() => integrations.id),
    name: text('name').notNull(),
    /** Platform event types this source may produce; null for all. */
    eventTypes: text('event_types').array(),
    /** The opaque, unguessable path segment of the source's URL. */
    hookId: text('hook_id').notNull(),
    secret: text('secret').notNull(),
    previousSecret: text('previous_secret'),
    previousSecretExpiresAt: at('previous_secret_expires_at'),
    rejectedCount: integer('rejected_count').notNull().default(0),
    lastRejectedAt: at('last_rejected_at'),
    /** Rejections in the current minute, which bounds how many rejected requests are recorded and answered 401. */
    rejectWindowStart: at('reject_window_start'),
    rejectWindowCount: integer('reject_window_count').notNull().default(0),
    /**
     * The registration at the vendor (an Autotask webhook, a ConnectWise callback, a Graph subscription):
     * `registered`, `failed` or `deactivated` (the vendor turned it off); null when Patchbay registers nothing
     * (shown as `manual`). `registration_options` are the vendor-specific choices (board, resource…).
     */
    registrationStatus: text('registration_status'),
    registrationVendorId: text('registration_vendor_id'),
    registrationExpiresAt: at('registration_expires_at'),
    registrationError: text('registration_error'),
    registrationOptions: jsonb('registration_options').$type<Record<string, unknown>>(),
    createdByKeyId: uuid('created_by_key_id'),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('webhook_sources_hook_idx').on(t.hookId),
    index('webhook_sources_org_idx').on(t.orgId, t.createdAt),
  ],
)

/**
 * Every request a source received, as received (headers without secrets, the raw body), and how the pipeline
 * `verify → parse → normalize → apply` went: `received`, `processing`, `processed`, `retrying`, `failed` (the
 * dead-letter state, with `failure`), `rejected` (bad signature; no body kept). A replay is a new row whose
 * `replay_of` names the original.
 */
export const webhookEvents = pgTable(
  'webhook_events',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id),
    sourceId: uuid('source_id')
      .notNull()
      .references(() => webhookSources.id, { onDelete: 'cascade' }),
    provider: text('provider').notNull(),
    status: text('status').notNull(),
    /** The stage running, failed or (when processed) last run. */
    stage: text('stage'),
    headers: jsonb('headers').$type<Record<string, string>>().notNull(),
    /** The raw body as received (UTF-8); null for rejected requests. */
    body: text('body'),
    bodyBytes: integer('body_bytes').notNull(),
    /** Whether the signature was checked at receipt; otherwise the verify stage checks it (fetching a key). */
    verified: text('verified'),
    replayOf: uuid('replay_of'),
    /** Every stage attempt: `{stage, attempt, ok, error?, errorClass?, durationMs, at}`. */
    attempts: jsonb('attempts').$type<Record<string, unknown>[]>().notNull().default(sql`'[]'::jsonb`),
    /** Stage outputs kept so a retry resumes at the stage that failed. */
    parsed: jsonb('parsed'),
    normalized: jsonb('normalized'),
    /** The platform events the apply stage ingested. */
    platformEvents: jsonb('platform_events').$type<{ id: string; type: string }[]>(),
    /** `{stage, errorClass, error, suggestion}` once failed or rejected. */
    failure: jsonb('failure').$type<Record<string, string>>(),
    receivedAt: at('received_at').notNull(),
    processedAt: at('processed_at'),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [
    index('webhook_events_org_idx').on(t.orgId, t.receivedAt),
    index('webhook_events_source_idx').on(t.sourceId, t.receivedAt),
    index('webhook_events_received_idx').on(t.receivedAt),
  ],
)
