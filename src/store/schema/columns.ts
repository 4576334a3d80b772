import { timestamp, uuid } from 'drizzle-orm/pg-core'
import { orgs } from './tenancy.ts'

/**
 * Columns most tables share, written once so every table spells them the same way (the generated migrations
 * compare by SQL, so using these changes no migration). Each is a function: a drizzle column builder belongs to
 * the one table it is used in.
 */

/** A point in time, with its time zone, read as a Date. */
export const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

/** The organization a row belongs to: every query on the table names it (tenant id explicit on every access). */
export const orgId = () =>
  uuid('org_id')
    .notNull()
    .references(() => orgs.id)

/** When the row was made and last changed. */
export const timestamps = () => ({
  createdAt: at('created_at').notNull(),
  updatedAt: at('updated_at').notNull(),
})
