import { bigint, integer, pgTable, text } from 'drizzle-orm/pg-core'

/**
 * Vendors' per-account request budgets (Datto RMM: 600 requests per 60 s), one fixed window per account, shared
 * by every Patchbay process through this table. `account` is a hash of the vendor account's identity, never a
 * credential. Times are epoch milliseconds of Patchbay's clock, so tests drive windows exactly.
 */
export const requestBudgets = pgTable('request_budgets', {
  account: text('account').primaryKey(),
  windowStartMs: bigint('window_start_ms', { mode: 'number' }).notNull(),
  used: integer('used').notNull(),
})
