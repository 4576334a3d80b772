import { index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { integrations } from './integrations.ts'
import { orgs, partners } from './tenancy.ts'

/**
 * The Microsoft 365 CSP/GDAP onboarding (issue 15). A partner registers its multi-tenant app once; the secret
 * is vault ciphertext (see vault/sealed-columns.ts), never stored in clear.
 */
export const microsoft365PartnerApps = pgTable('microsoft365_partner_apps', {
  id: uuid('id').primaryKey(),
  partnerId: uuid('partner_id')
    .notNull()
    .unique()
    .references(() => partners.id),
  appId: text('app_id').notNull(),
  partnerTenantId: text('partner_tenant_id').notNull(),
  clientSecret: text('client_secret').notNull(),
  /** Partner Center `applicationGrants`: the permissions consented in each customer tenant. */
  grants: jsonb('grants').$type<{ enterpriseApplicationId: string; scope: string }[]>().notNull(),
  loginBaseUrl: text('login_base_url').notNull(),
  graphBaseUrl: text('graph_base_url').notNull(),
  partnerCenterBaseUrl: text('partner_center_base_url').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
})

/**
 * One chosen customer tenant's progress through the onboarding steps (consent → integration → verified), so a
 * run that stopped (a vendor error, a restart) resumes where it was.
 */
export const microsoft365OnboardingCustomers = pgTable(
  'microsoft365_onboarding_customers',
  {
    partnerId: uuid('partner_id')
      .notNull()
      .references(() => partners.id),
    /** Partner Center's customer id. */
    customerId: text('customer_id').notNull(),
    tenantId: text('tenant_id').notNull(),
    companyName: text('company_name').notNull(),
    domain: text('domain'),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id),
    /** `pending`, `consented`, `integrated`, `verified`, or `failed` (at `failedStep`). */
    status: text('status').notNull(),
    failedStep: text('failed_step'),
    /** The vendor's words (no secrets), and what to do about them. */
    error: text('error'),
    fix: text('fix'),
    integrationId: uuid('integration_id').references(() => integrations.id, { onDelete: 'set null' }),
    attempts: integer('attempts').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.partnerId, t.customerId] }),
    index('microsoft365_onboarding_customers_org_idx').on(t.orgId),
  ],
)
