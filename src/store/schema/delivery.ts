import { sql } from 'drizzle-orm'
import {
  bigint,
  boolean,
  date,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core'
import { orgs } from './tenancy.ts'

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

/** Platform events as they arrived; deliveries read their payload from here rather than copying it. */
export const events = pgTable(
  'events',
  {
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id),
    /** The caller's event id (idempotency key within the org), or one Patchbay made. */
    id: text('id').notNull(),
    type: text('type').notNull(),
    occurredAt: ts('occurred_at').notNull(),
    data: jsonb('data').notNull(),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.id] }), index('events_created_idx').on(t.createdAt)],
)

export const webhookStatus = pgEnum('webhook_status', ['active', 'paused', 'failed'])

export const webhooks = pgTable(
  'webhooks',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id),
    name: text('name').notNull(),
    url: text('url').notNull(),
    /** Vault ciphertext of the signing secret. */
    secret: text('secret'),
    /** After a standard-webhooks secret rotation, the old secret keeps signing until previousSecretExpiresAt. */
    previousSecret: text('previous_secret'),
    previousSecretExpiresAt: ts('previous_secret_expires_at'),
    signatureScheme: text('signature_scheme').notNull().default('breeze'),
    events: text('events').array().notNull(),
    /**
     * Custom headers as responses show them: `[{key, masked}]`, the value reduced to `****` and its last four
     * characters. Rows written before header values were sealed hold `[{key, value}]` in plain text until the
     * startup step `sealPlaintextHeaders` seals them.
     */
    headers: jsonb('headers').notNull().default(sql`'[]'::jsonb`),
    /** Vault ciphertext of the custom headers with their real values (`[{key, value}]`); null when there are none. */
    headerValues: text('header_values'),
    status: webhookStatus('status').notNull().default('active'),
    retryPolicy: jsonb('retry_policy'),
    successCount: integer('success_count').notNull().default(0),
    failureCount: integer('failure_count').notNull().default(0),
    /** Dead-lettered deliveries since the last success; past the threshold the webhook is marked failed. */
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    lastDeliveryAt: ts('last_delivery_at'),
    lastSuccessAt: ts('last_success_at'),
    createdByKeyId: uuid('created_by_key_id'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [index('webhooks_org_idx').on(t.orgId, t.status)],
)

export const deliveryStatus = pgEnum('delivery_status', [
  'pending',
  'in_progress',
  'retrying',
  'delivered',
  'failed',
])

/**
 * Everything that leaves Patchbay is a delivery: a webhook POST, a chat message, a PSA ticket operation, a
 * monitoring forward. `target_type` names the transport, `target_id` the webhook or integration.
 *
 * The table is partitioned by range of `id` (PostgreSQL declarative partitioning, which drizzle does not model:
 * see drizzle/0018_delivery_history_partitions.sql), one partition per UTC day. Ids are UUIDv7, so their first
 * 48 bits are the creation time and a day is a contiguous id range: the primary key stays `id` alone, lookups by
 * id (claims, outcomes, the queue's foreign key) touch one partition, and retention drops whole days
 * (`patchbay_ensure_delivery_partitions` creates them ahead; `deliveries_default` catches any id outside them).
 * No index may cover a column an attempt's outcome changes (status, attempts, times, response): the one update
 * per attempt then stays a HOT update that writes no index.
 */
export const deliveries = pgTable(
  'deliveries',
  {
    id: uuid('id').primaryKey().default(sql`patchbay_uuid_v7(now())`),
    orgId: uuid('org_id').notNull(),
    targetType: text('target_type').notNull(),
    targetId: uuid('target_id').notNull(),
    eventId: text('event_id').notNull(),
    eventType: text('event_type').notNull(),
    /** Transport-specific instructions (e.g. which ticket operation); the event itself is in `events`. */
    operation: jsonb('operation'),
    status: deliveryStatus('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at'),
    responseStatus: integer('response_status'),
    responseBody: text('response_body'),
    responseTimeMs: integer('response_time_ms'),
    errorMessage: text('error_message'),
    /** The failed delivery this one retries, for manual retries and recovery. */
    retryOf: uuid('retry_of'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    deliveredAt: ts('delivered_at'),
  },
  (t) => [
    // By id, the list's order (newest first): UUIDv7 ids are the creation time, and the partition key, so a first
    // page reads the newest days' indexes only.
    index('deliveries_target_idx').on(t.targetId, t.id),
    index('deliveries_org_idx').on(t.orgId, t.id),
    index('deliveries_event_idx').on(t.orgId, t.eventId),
    // The list's event-type filter, in its order (drizzle/0026): without it a first page and its capped total
    // read five of an organization's rows from the heap per match. `event_type` never changes, so the index
    // keeps each attempt's update HOT.
    index('deliveries_org_type_idx').on(t.orgId, t.eventType, t.id),
  ],
)

/**
 * Deliveries by day, organization, target and status, for the days whose history partition is counted
 * (drizzle/0021): every partition of a day before `delivery_counted_through.day`. Filled when the day is counted
 * and kept exact by row triggers on those partitions only (written rarely: late retries, retention), so a
 * webhook's delivery stats add a few rows per day instead of counting its whole history, and the days still
 * being written pay nothing per attempt. `lastDeliveredAt` is the latest `delivered_at` of the group (recomputed
 * from the partition when the row holding it is deleted or moves out of the group).
 */
export const deliveryDayCounts = pgTable(
  'delivery_day_counts',
  {
    targetId: uuid('target_id').notNull(),
    orgId: uuid('org_id').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    status: deliveryStatus('status').notNull(),
    /** The deliveries' `target_type`: a list filtered by type and target counts only that type (drizzle/0022). */
    targetType: text('target_type').notNull(),
    n: bigint('n', { mode: 'number' }).notNull(),
    lastDeliveredAt: ts('last_delivered_at'),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.orgId, t.day, t.status, t.targetType] })],
)

/**
 * One row: the history partitions of the days before `day` are counted in delivery_day_counts; later days (and
 * the default partition) are counted from the history itself.
 */
export const deliveryCountedThrough = pgTable('delivery_counted_through', {
  one: boolean('one').primaryKey().default(true),
  day: date('day', { mode: 'string' }).notNull(),
})

/**
 * The work still to do: one small row per delivery that is due or under way, apart from the history above.
 * Claims and leases churn only this table and its two indexes; the history row is updated once per attempt,
 * without touching any of its indexes (a HOT update). Rows arrive by a trigger on every insert of a pending
 * delivery, and leave when the delivery is delivered or failed.
 */
export const deliveryQueue = pgTable(
  'delivery_queue',
  {
    // No foreign key to `deliveries`: its check ran a partition-routed lookup and a row lock on the history row
    // for every queued delivery, about 60% of the ingest's INSERT in the bench (drizzle/0025). The enqueue trigger
    // inserts only ids it was given, and a delete trigger (0025) removes the rows of deleted deliveries.
    id: uuid('id').primaryKey(),
    targetId: uuid('target_id').notNull(),
    nextAttemptAt: ts('next_attempt_at').notNull(),
    /** Attempts made, counting one under way: a claim counts it, so an attempt cut short by a crash counts. */
    attempts: integer('attempts').notNull().default(0),
    leaseUntil: ts('lease_until'),
    leasedBy: text('leased_by'),
  },
  (t) => [
    index('delivery_queue_due_idx').on(t.nextAttemptAt).where(sql`${t.leaseUntil} IS NULL`),
    index('delivery_queue_lease_idx').on(t.leaseUntil).where(sql`${t.leaseUntil} IS NOT NULL`),
  ],
)

/**
 * Targets whose circuit is open (see the delivery worker): a delivery queued for one waits until `until`, so no
 * claim walks past a failing target's new deliveries. The row outlives the circuit harmlessly (a past `until`
 * holds nothing) until the circuit closes and removes it.
 */
export const deliveryHolds = pgTable('delivery_holds', {
  targetId: uuid('target_id').primaryKey(),
  until: ts('until').notNull(),
})

/**
 * The attempts of a delivery that did not end it successfully (a retry, or the final failure), for the delivery's
 * timeline: the outcome on the `deliveries` row is only the last one. Written by the engine's outcome statement
 * itself (src/delivery/store.ts), so recording one costs no extra round trip, and a first-try success (most
 * deliveries) writes nothing here. `request_headers` are what was sent with every secret value masked. No foreign
 * key: it would add checks to the history's hot path and block detaching a day's partition; retention deletes the
 * attempts whose delivery is gone (src/delivery/retention.ts). Ids are UUIDv7, so an attempt's delivery id says
 * its day.
 */
export const deliveryAttempts = pgTable(
  'delivery_attempts',
  {
    deliveryId: uuid('delivery_id').notNull(),
    orgId: uuid('org_id').notNull(),
    attempt: integer('attempt').notNull(),
    at: ts('at').notNull(),
    responseStatus: integer('response_status'),
    responseBody: text('response_body'),
    responseTimeMs: integer('response_time_ms'),
    errorMessage: text('error_message'),
    requestHeaders: jsonb('request_headers'),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.attempt] })],
)
