import { sql } from 'drizzle-orm'
import { check, index, integer, pgEnum, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core'

export const apiKeyScope = pgEnum('api_key_scope', ['system', 'partner', 'organization'])

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
}

export const partners = pgTable('partners', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  ...timestamps,
})

export const orgs = pgTable(
  'orgs',
  {
    id: uuid('id').primaryKey(),
    partnerId: uuid('partner_id').references(() => partners.id),
    name: text('name').notNull(),
    ...timestamps,
  },
  (t) => [index('orgs_partner_idx').on(t.partnerId)],
)

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    scope: apiKeyScope('scope').notNull(),
    partnerId: uuid('partner_id').references(() => partners.id),
    orgId: uuid('org_id').references(() => orgs.id),
    /** The first characters of the token, kept to let people tell their keys apart. */
    tokenPrefix: text('token_prefix').notNull(),
    /** SHA-256 of the whole token; the token itself is never stored. */
    tokenHash: text('token_hash').notNull().unique(),
    createdByKeyId: uuid('created_by_key_id'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
    /** This key's event-ingest requests per minute; null: PATCHBAY_RATE_LIMIT_INGEST. */
    rateLimitIngest: integer('rate_limit_ingest'),
    /** This key's other API requests per minute; null: PATCHBAY_RATE_LIMIT_CONFIG. */
    rateLimitConfig: integer('rate_limit_config'),
  },
  (t) => [
    index('api_keys_org_idx').on(t.orgId),
    index('api_keys_partner_idx').on(t.partnerId),
    check(
      'api_keys_scope_owner',
      sql`(${t.scope} = 'system' AND ${t.partnerId} IS NULL AND ${t.orgId} IS NULL)
        OR (${t.scope} = 'partner' AND ${t.partnerId} IS NOT NULL AND ${t.orgId} IS NULL)
        OR (${t.scope} = 'organization' AND ${t.orgId} IS NOT NULL)`,
    ),
  ],
)
