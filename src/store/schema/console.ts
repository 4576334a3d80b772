import { index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { apiKeys } from './tenancy.ts'

/**
 * Operator console sign-ins. The browser holds only a random session token; the row keeps its SHA-256 and the
 * id of the API key it was exchanged for (never the key itself), so revoking the key ends the session at once.
 */
export const consoleSessions = pgTable(
  'console_sessions',
  {
    id: uuid('id').primaryKey(),
    tokenHash: text('token_hash').notNull().unique(),
    keyId: uuid('key_id')
      .notNull()
      .references(() => apiKeys.id, { onDelete: 'cascade' }),
    /** Sent back with every state-changing request (form field or header); bound to this session. */
    csrfToken: text('csrf_token').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('console_sessions_expires_idx').on(t.expiresAt)],
)
