import { index, integer, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core'

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

/**
 * POST requests sent with an `Idempotency-Key`, per API key: the first one's fingerprint and, once it finished,
 * its response, replayed to a repeat within 24 hours (Stripe's and Svix's semantics). A row in state `running`
 * belongs to a request under way until `locked_until`; after that (its process died) a repeat may take it over.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    apiKeyId: uuid('api_key_id').notNull(),
    key: text('key').notNull(),
    /** SHA-256 of method, path and body: a repeat with anything else is refused. */
    requestHash: text('request_hash').notNull(),
    state: text('state').notNull(),
    responseStatus: integer('response_status'),
    responseType: text('response_type'),
    responseBody: text('response_body'),
    createdAt: ts('created_at').notNull(),
    lockedUntil: ts('locked_until').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.apiKeyId, t.key] }),
    index('idempotency_keys_created_idx').on(t.createdAt),
  ],
)
