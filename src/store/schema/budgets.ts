import { bigint, integer, pgTable, text } from 'drizzle-orm/pg-core'

/**
 * Request budgets, one fixed window per account, shared by every Patchbay process through this table: vendors'
 * per-account limits (Datto RMM: 600 requests per 60 s; `account` is a hash of the vendor account's identity, never
 * a credential) and the API's own per-key rate limits (`api:<key id>:<bucket>`). Times are epoch milliseconds of Patchbay's clock, so tests drive windows exactly.
 */
export const requestBudgets = pgTable('request_budgets', {
  account: text('account').primaryKey(),
  windowStartMs: bigint('window_start_ms', { mode: 'number' }).notNull(),
  used: integer('used').notNull(),
})
