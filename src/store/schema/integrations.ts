import { sql } from 'drizzle-orm'
import {
  boolean,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'
import { orgs } from './tenancy.ts'

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

export const integrationStatus = pgEnum('integration_status', [
  'pending_verify',
  'active',
  'inactive',
  'error',
])

/**
 * Every configured connection of an organization to a provider (a PSA, a chat workspace, a monitoring
 * endpoint…). The SynthesQ `/integrations` routes, the Breeze `/psa/connections` and `/integrations/<provider>`
 * routes are all doors onto these rows.
 */
export const integrations = pgTable(
  'integrations',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id),
    /** The connector id (`connectwise`, `slack`, `generic-monitoring`, …). */
    provider: text('provider').notNull(),
    /** Distinguishes several instances of one provider; null for the unnamed one. */
    name: text('name'),
    /** The instance used when none is named; exactly one per provider and organization. */
    isDefault: boolean('is_default').notNull().default(false),
    status: integrationStatus('status').notNull(),
    enabledCapabilities: jsonb('enabled_capabilities').$type<string[]>().notNull(),
    /** Vault ciphertext of every credential field as JSON; null once the integration is deleted. */
    credentials: text('credentials'),
    /** The non-sensitive credential fields in plain JSON, for display without opening the vault. */
    credentialsPublic: jsonb('credentials_public').$type<Record<string, unknown>>().notNull(),
    /** Non-credential configuration a door keeps (default board, channel, notifyOn, priority mapping…). */
    settings: jsonb('settings').$type<Record<string, unknown>>().notNull(),
    /** The user's own notes (SynthesQ `metadata`). */
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull(),
    /** Bumped whenever a verification is requested; a job's outcome counts only if it still matches. */
    verifySeq: integer('verify_seq').notNull().default(1),
    verifiedAt: at('verified_at'),
    lastTestedAt: at('last_tested_at'),
    lastError: text('last_error'),
    lastErrorAt: at('last_error_at'),
    /** What put the last error there: `verification` (credentials checked) or `probe` (health probes). */
    errorSource: text('error_source'),
    consecutiveProbeFailures: integer('consecutive_probe_failures').notNull().default(0),
    nextProbeAt: at('next_probe_at'),
    lastProbeAt: at('last_probe_at'),
    lastProbeOk: boolean('last_probe_ok'),
    /**
     * When the credentials stop working, and what to do before then, as the last successful verification or probe
     * reported (Datto EDR's yearly API token); null when the connector reports no expiry.
     */
    credentialsExpireAt: at('credentials_expire_at'),
    warning: text('warning'),
    lastSyncAt: at('last_sync_at'),
    lastSyncStatus: text('last_sync_status'),
    lastSyncError: text('last_sync_error'),
    createdByKeyId: uuid('created_by_key_id'),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
    deletedAt: at('deleted_at'),
  },
  (t) => [
    index('integrations_org_provider_idx').on(t.orgId, t.provider),
    uniqueIndex('integrations_instance_name_idx')
      .on(t.orgId, t.provider, sql`lower(coalesce(${t.name}, ''))`)
      .where(sql`${t.deletedAt} IS NULL`),
    uniqueIndex('integrations_default_idx')
      .on(t.orgId, t.provider)
      .where(sql`${t.isDefault} AND ${t.deletedAt} IS NULL`),
    index('integrations_next_probe_idx').on(t.nextProbeAt).where(sql`${t.deletedAt} IS NULL`),
  ],
)

/** One health probe of an integration; kept for the rolling 24-hour history. */
export const integrationProbes = pgTable(
  'integration_probes',
  {
    id: uuid('id').primaryKey(),
    integrationId: uuid('integration_id')
      .notNull()
      .references(() => integrations.id),
    orgId: uuid('org_id').notNull(),
    probedAt: at('probed_at').notNull(),
    ok: boolean('ok').notNull(),
    latencyMs: integer('latency_ms').notNull(),
    /** The vendor's HTTP status, when it answered. */
    httpStatus: integer('http_status'),
    error: text('error'),
  },
  (t) => [
    index('integration_probes_integration_time_idx').on(t.integrationId, t.probedAt),
    index('integration_probes_time_idx').on(t.probedAt),
  ],
)

export interface RoutingCondition {
  field: string
  operator: string
  value?: unknown
}

/** Which integration handles a capability (`create_ticket`, `send_message`…) for an organization. */
export const routingRules = pgTable(
  'routing_rules',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id),
    capability: text('capability').notNull(),
    integrationId: uuid('integration_id')
      .notNull()
      .references(() => integrations.id),
    fallbackIntegrationId: uuid('fallback_integration_id').references(() => integrations.id),
    priority: integer('priority').notNull().default(0),
    isDefault: boolean('is_default').notNull().default(false),
    conditions: jsonb('conditions').$type<RoutingCondition[]>().notNull(),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [
    index('routing_rules_org_capability_idx').on(t.orgId, t.capability),
    uniqueIndex('routing_rules_default_idx').on(t.orgId, t.capability).where(sql`${t.isDefault}`),
  ],
)
