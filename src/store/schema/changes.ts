import {
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'
import { at, orgId, timestamps } from './columns.ts'
import { integrations } from './integrations.ts'
import { orgs } from './tenancy.ts'

/**
 * A change control of an organization: what will change, when, who approves it, and where it stands in its
 * lifecycle (`created → approved (one of two) → fully_approved → scheduled → in_progress → completed | failed`,
 * `cancelled` from any open state). People are `{name, email}`; the linked PSA ticket is in `ticket`.
 */
export const changes = pgTable(
  'changes',
  {
    id: uuid('id').primaryKey(),
    orgId: orgId(),
    title: text('title').notNull(),
    description: text('description').notNull(),
    implementationPlan: text('implementation_plan').notNull(),
    windowStart: at('window_start'),
    windowEnd: at('window_end'),
    risk: text('risk').notNull(),
    creator: jsonb('creator').notNull(),
    technicalApprover: jsonb('technical_approver').notNull(),
    operationalApprover: jsonb('operational_approver').notNull(),
    /** vCAB committee members (committee changes only). */
    committee: boolean('committee').notNull().default(false),
    vcabMembers: jsonb('vcab_members').notNull(),
    status: text('status').notNull(),
    /** Events this change has raised so far: each event's `seq`, so its ticket updates are applied in order. */
    seq: integer('seq').notNull().default(0),
    /** `[{role, name, email, comment, at}]`, in the order they came. */
    approvals: jsonb('approvals').notNull(),
    /** What each later transition said: implementer, start, completion notes, test results, failure, cancellation. */
    outcome: jsonb('outcome').notNull(),
    /** `{integrationId, ticketId, number, summary, boardId, boardName, companyId, url}`, once linked. */
    ticket: jsonb('ticket'),
    /** Devices the description's `@hostname`s resolved to: `[{id, hostname, externalId}]`. */
    devices: jsonb('devices').notNull(),
    /** `@hostname`s that matched no device, reported rather than dropped. */
    unknownHostnames: jsonb('unknown_hostnames').notNull(),
    /** People with no member at the PSA (matched by email): `[{name, email, role}]`. */
    unscheduledResources: jsonb('unscheduled_resources').notNull(),
    /** The delivery applying this change's ticket updates, and until when its claim holds (one at a time, in order). */
    syncClaimedBy: uuid('sync_claimed_by'),
    syncClaimUntil: at('sync_claim_until'),
    ...timestamps(),
  },
  (t) => [index('changes_org_idx').on(t.orgId, t.createdAt)],
)

/** An organization's change-management settings on its PSA integration (see src/changes/settings.ts). */
export const changeSettings = pgTable('change_settings', {
  orgId: uuid('org_id')
    .primaryKey()
    .references(() => orgs.id),
  integrationId: uuid('integration_id')
    .notNull()
    .references(() => integrations.id),
  settings: jsonb('settings').notNull(),
  /** The device sync in progress: `{cursor, created, updated, skipped, pages}`, so a stopped sync resumes. */
  deviceSync: jsonb('device_sync'),
  lastDeviceSyncAt: at('last_device_sync_at'),
  ...timestamps(),
})

/**
 * Steps of a change's ticket updates already done at the PSA (`<event id>:<step>`), so a retried delivery does not
 * post its note or schedule entry twice; and notes and schedule entries sent but not yet known done
 * (`<event id>:<step>#sent`), which a retry looks for at the PSA before sending again (the answer may have been lost).
 */
export const changeSteps = pgTable(
  'change_steps',
  {
    changeId: uuid('change_id')
      .notNull()
      .references(() => changes.id, { onDelete: 'cascade' }),
    step: text('step').notNull(),
    doneAt: at('done_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.changeId, t.step] })],
)

/** Devices imported from a PSA's configurations (device sync), per organization. */
export const devices = pgTable(
  'devices',
  {
    id: uuid('id').primaryKey(),
    orgId: orgId(),
    integrationId: uuid('integration_id')
      .notNull()
      .references(() => integrations.id),
    externalId: text('external_id').notNull(),
    hostname: text('hostname').notNull(),
    deviceType: text('device_type').notNull(),
    sourceType: text('source_type').notNull(),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('devices_external_idx').on(t.integrationId, t.externalId),
    index('devices_org_host_idx').on(t.orgId, t.hostname),
  ],
)
