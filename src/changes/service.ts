import { and, eq, inArray, sql } from 'drizzle-orm'
import type { ChangeManagementOperations, ConnectorEnv, Credentials } from '../connectors/types.ts'
import { VendorError } from '../connectors/vendor-error.ts'
import type { AppContext } from '../context.ts'
import { secretValues } from '../integrations/credentials.ts'
import {
  type AuditContext,
  IntegrationError,
  type IntegrationView,
  loadCredentials,
} from '../integrations/service.ts'
import { connectorEnv } from '../integrations/verification.ts'
import { ApiError } from '../lib/errors.ts'
import { newId } from '../lib/ids.ts'
import { scrubSecrets } from '../lib/redact.ts'
import { type AuditEntry, auditRow, recordAudit } from '../store/audit.ts'
import type { Executor, Querier } from '../store/db.ts'
import { auditLogs } from '../store/schema/audit.ts'
import { changeSettings, changes, devices } from '../store/schema/changes.ts'
import {
  type Approval,
  type ApprovalRole,
  type ChangeStatus,
  type ChangeTicketLink,
  type ChangeView,
  hostnameRefs,
  type LinkedDevice,
  OPEN_STATUSES,
  type Outcome,
  type Person,
  type RISKS,
  type UnscheduledResource,
} from './model.ts'
import { type ChangeSettings, readChangeSettings, STATUS_EVENTS } from './settings.ts'

export type { AuditContext }

/** A platform event a change raises. */
export interface ChangeEventInput {
  orgId: string
  id: string
  type: string
  occurredAt: Date
  data: unknown
}

/**
 * Who acts (for the audit log), and how the change's events are stored and fanned out to deliveries (the delivery
 * engine's ingest, given at the edge).
 */
export interface Acting extends AuditContext {
  /** Stores the events and their deliveries inside the caller's open transaction `q`. */
  emit(q: Querier, events: ChangeEventInput[]): Promise<unknown>
}

type ChangeRow = typeof changes.$inferSelect

export function toView(r: ChangeRow): ChangeView {
  return {
    id: r.id,
    orgId: r.orgId,
    title: r.title,
    description: r.description,
    implementationPlan: r.implementationPlan,
    window: { start: r.windowStart?.toISOString() ?? null, end: r.windowEnd?.toISOString() ?? null },
    risk: r.risk as (typeof RISKS)[number],
    creator: r.creator as Person,
    technicalApprover: r.technicalApprover as Person,
    operationalApprover: r.operationalApprover as Person,
    committee: r.committee,
    vcabMembers: r.vcabMembers as Person[],
    status: r.status as ChangeStatus,
    approvals: r.approvals as Approval[],
    outcome: r.outcome as Outcome,
    ticket: (r.ticket as ChangeTicketLink | null) ?? null,
    devices: r.devices as LinkedDevice[],
    unknownHostnames: r.unknownHostnames as string[],
    unscheduledResources: r.unscheduledResources as UnscheduledResource[],
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The organization's PSA, through the connector capability the registry gives its integration.

export interface ChangePsa {
  integration: IntegrationView
  ops: ChangeManagementOperations
  credentials: Credentials
  env: ConnectorEnv
  secrets: string[]
  settings: ChangeSettings
}

export async function getSettings(ctx: AppContext, orgId: string): Promise<ChangeSettings | undefined> {
  const [row] = await ctx.db.orm.select().from(changeSettings).where(eq(changeSettings.orgId, orgId))
  return row ? readChangeSettings(row.settings) : undefined
}

/** The integration's change-management operations and credentials; `settings` as saved or given. */
export async function psaFor(ctx: AppContext, orgId: string, settings?: ChangeSettings): Promise<ChangePsa> {
  const s = settings ?? (await getSettings(ctx, orgId))
  if (!s)
    throw ApiError.conflict(
      'Change management is not set up for this organization (PUT /api/v1/changes/settings)',
    )
  let loaded: Awaited<ReturnType<typeof loadCredentials>>
  try {
    loaded = await loadCredentials(ctx, { kind: 'org', orgId }, s.integrationId)
  } catch (err) {
    if (err instanceof IntegrationError && err.code === 'not_found')
      throw ApiError.invalid('integrationId', 'no integration of this organization has that id')
    throw err
  }
  const ops = loaded.connector.changeManagement
  if (!ops)
    throw ApiError.invalid(
      'integrationId',
      `${loaded.connector.descriptor.displayName} has no change management capability`,
    )
  return {
    integration: loaded.integration,
    ops,
    credentials: loaded.credentials,
    env: connectorEnv(ctx, loaded.integration.provider),
    secrets: secretValues(loaded.connector.descriptor.credentialSchema, loaded.credentials),
    settings: s,
  }
}

/**
 * The PSA a change's linked ticket lives in: the integration it was linked through, whatever the settings name
 * today (a ticket id means nothing at another PSA), with the organization's settings.
 */
export async function psaForTicket(ctx: AppContext, orgId: string, change: ChangeView): Promise<ChangePsa> {
  const settings = await getSettings(ctx, orgId)
  return psaFor(
    ctx,
    orgId,
    settings && change.ticket ? { ...settings, integrationId: change.ticket.integrationId } : settings,
  )
}

/** A vendor refusal on an interactive call: the vendor's words (secrets removed), as a 502 or its own 4xx. */
export function vendorFailure(err: unknown, secrets: string[]): never {
  if (err instanceof VendorError) {
    // 404: what was asked for is not there; 400: the request was refused as malformed (a page cursor this
    // connector did not issue, say); anything else is the vendor failing, a 502 naming it.
    const status = err.status === 404 ? 404 : err.status === 400 ? 400 : 502
    throw new ApiError(status, 'vendor_error', scrubSecrets(err.message, secrets))
  }
  throw err
}

/** Saves settings, after checking each configured status name against the mapped boards' statuses. */
export async function saveSettings(
  ctx: AppContext,
  orgId: string,
  input: ChangeSettings,
  audit: AuditContext,
): Promise<ChangeSettings> {
  const psa = await psaFor(ctx, orgId, input)
  const configured = STATUS_EVENTS.flatMap((k) => {
    const v = input.statuses[k]
    return v ? [[k, v] as const] : []
  })
  const boardIds = input.company?.boardIds ?? []
  // A board filter naming a board the PSA lacks would refuse every ticket: checked whether or not statuses are set.
  if (configured.length > 0 || boardIds.length > 0) {
    try {
      const all = await psa.ops.listBoards(psa.credentials, psa.env)
      const boards = boardIds.length ? all.filter((b) => boardIds.includes(b.id)) : all
      for (const id of boardIds) {
        if (!all.some((b) => b.id === id))
          throw ApiError.invalid('company.boardIds', `board ${id} does not exist (or is inactive)`)
      }
      const statuses = new Map<string, string[]>()
      for (const b of boards) {
        statuses.set(
          b.id,
          (await psa.ops.boardStatuses(psa.credentials, b.id, psa.env)).map((s) => s.name),
        )
      }
      const has = (boardId: string, name: string) =>
        (statuses.get(boardId) ?? []).some((s) => s.toLowerCase() === name.toLowerCase())
      const details: { path: string; message: string }[] = []
      for (const [key, name] of configured) {
        // With a board filter every filtered board must have it; without one, some board must.
        const lacking = boards.filter((b) => !has(b.id, name))
        if (boardIds.length ? lacking.length > 0 : lacking.length === boards.length) {
          const shown = (boardIds.length ? lacking : boards).slice(0, 5)
          details.push({
            path: `statuses.${key}`,
            message: `"${name}" is not a status of ${shown
              .map((b) => `board "${b.name}" (statuses: ${(statuses.get(b.id) ?? []).join(', ')})`)
              .join('; ')}`,
          })
        }
      }
      if (details.length) {
        throw new ApiError(
          422,
          'validation_failed',
          `Validation failed: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`,
          details,
        )
      }
    } catch (err) {
      if (err instanceof ApiError) throw err
      vendorFailure(err, psa.secrets)
    }
  }
  const now = ctx.clock.now()
  await ctx.db.orm.transaction(async (tx) => {
    await tx
      .insert(changeSettings)
      .values({ orgId, integrationId: input.integrationId, settings: input, createdAt: now, updatedAt: now })
      .onConflictDoUpdate({
        target: changeSettings.orgId,
        set: { integrationId: input.integrationId, settings: input, updatedAt: now },
      })
    await recordAudit(
      tx,
      {
        actor: audit.actor,
        requestId: audit.requestId ?? null,
        orgId,
        action: 'change.settings.updated',
        targetType: 'change_settings',
        targetId: orgId,
        summary: { integrationId: input.integrationId, enabled: input.enabled },
      },
      now,
    )
  })
  return input
}

// ---------------------------------------------------------------------------------------------------------------
// Changes

export interface NewChange {
  title: string
  description: string
  implementationPlan: string
  window?: { start: Date; end: Date } | undefined
  risk: (typeof RISKS)[number]
  creator: Person
  technicalApprover: Person
  operationalApprover: Person
  committee: boolean
  vcabMembers: Person[]
  ticketId?: string | undefined
}

async function requireChange(db: Executor, orgId: string, id: string): Promise<ChangeRow> {
  const [row] = await db
    .select()
    .from(changes)
    .where(and(eq(changes.orgId, orgId), eq(changes.id, id)))
  if (!row) throw ApiError.notFound('Change')
  return row
}

export async function getChange(ctx: AppContext, orgId: string, id: string): Promise<ChangeView> {
  return toView(await requireChange(ctx.db.orm, orgId, id))
}

export async function listChanges(
  ctx: AppContext,
  orgId: string,
  page: { page: number; limit: number },
  status?: ChangeStatus,
) {
  const where = and(eq(changes.orgId, orgId), status ? eq(changes.status, status) : undefined)
  const [items, total] = await Promise.all([
    ctx.db.orm
      .select()
      .from(changes)
      .where(where)
      .orderBy(sql`${changes.createdAt} DESC, ${changes.id} DESC`)
      .limit(page.limit)
      .offset((page.page - 1) * page.limit),
    ctx.db.orm.$count(changes, where),
  ])
  return { items: items.map(toView), total }
}

/** `@hostname`s of `text` resolved to this organization's devices; the rest reported. */
async function resolveDevices(db: Executor, orgId: string, text: string) {
  const names = hostnameRefs(text)
  if (!names.length) return { linked: [] as LinkedDevice[], unknown: [] as string[] }
  const rows = await db
    .select()
    .from(devices)
    .where(and(eq(devices.orgId, orgId), inArray(sql`lower(${devices.hostname})`, names)))
  const linked = rows.map((d) => ({
    id: d.id,
    hostname: d.hostname,
    externalId: d.externalId,
    integrationId: d.integrationId,
  }))
  const found = new Set(rows.map((d) => d.hostname.toLowerCase()))
  return { linked, unknown: names.filter((n) => !found.has(n)) }
}

interface Emitted {
  type: string
  details?: Record<string, unknown>
}

/** The change's events, in order; each carries the change as it stands and its `seq`. */
function eventsOf(row: ChangeRow, events: Emitted[], firstSeq: number, now: Date): ChangeEventInput[] {
  const view = toView(row)
  return events.map((e, i) => ({
    orgId: row.orgId,
    id: `change-${row.id}-${firstSeq + i}`,
    type: e.type,
    occurredAt: now,
    data: { changeId: row.id, seq: firstSeq + i, change: view, ...(e.details ?? {}) },
  }))
}

/**
 * Writes a change (the statement `write`, built with the query builder), its audit entry and its events with their
 * deliveries in one transaction: a change never moves without the ticket updates it owes being queued.
 */
async function commit(
  ctx: AppContext,
  by: Acting,
  write: { toSQL(): { sql: string; params: unknown[] } },
  audit: Omit<AuditEntry, 'actor' | 'requestId'>,
  events: ChangeEventInput[],
  now: Date,
): Promise<boolean> {
  return ctx.db.transaction(async (q) => {
    const w = write.toSQL()
    const written = await q.query(w.sql, w.params)
    if (!written.length) return false
    const a = ctx.db.orm
      .insert(auditLogs)
      .values(auditRow({ ...audit, actor: by.actor, requestId: by.requestId ?? null }, now))
      .toSQL()
    await q.query(a.sql, a.params)
    if (events.length) await by.emit(q, events)
    return true
  })
}

export async function createChange(
  ctx: AppContext,
  orgId: string,
  input: NewChange,
  audit: Acting,
): Promise<ChangeView> {
  const now = ctx.clock.now()
  const id = newId(now.getTime())
  // A ticket that may not be linked refuses the whole creation: nothing is created for a 422. The ticket read here
  // is the one linked below (one read from the PSA, not one to check and another to link).
  const link = input.ticketId ? await checkTicket(ctx, orgId, input.ticketId) : undefined
  const { linked, unknown } = await resolveDevices(ctx.db.orm, orgId, input.description)
  const row: ChangeRow = {
    id,
    orgId,
    title: input.title,
    description: input.description,
    implementationPlan: input.implementationPlan,
    windowStart: input.window?.start ?? null,
    windowEnd: input.window?.end ?? null,
    risk: input.risk,
    creator: input.creator,
    technicalApprover: input.technicalApprover,
    operationalApprover: input.operationalApprover,
    committee: input.committee,
    vcabMembers: input.vcabMembers,
    status: 'created',
    seq: 1,
    approvals: [],
    outcome: {},
    ticket: null,
    devices: linked,
    unknownHostnames: unknown,
    unscheduledResources: [],
    syncClaimedBy: null,
    syncClaimUntil: null,
    createdAt: now,
    updatedAt: now,
  }
  await commit(
    ctx,
    audit,
    ctx.db.orm.insert(changes).values(row).returning({ id: changes.id }),
    { orgId, action: 'change.created', targetType: 'change', targetId: id, summary: { title: input.title } },
    eventsOf(row, [{ type: 'change.created' }], 1, now),
    now,
  )
  if (link) return attachTicket(ctx, orgId, id, link, audit)
  return toView(row)
}

/**
 * Moves a change from one of `from` to its next state in one conditional UPDATE (a concurrent move makes it a 409),
 * audits it, then raises its events.
 */
async function move(
  ctx: AppContext,
  orgId: string,
  id: string,
  opts: {
    action: string
    from: readonly ChangeStatus[]
    next: (row: ChangeRow) => { set: Partial<typeof changes.$inferInsert>; events: Emitted[] }
  },
  audit: Acting,
): Promise<ChangeView> {
  const current = await requireChange(ctx.db.orm, orgId, id)
  if (!opts.from.includes(current.status as ChangeStatus)) {
    throw ApiError.conflict(
      `A change that is ${current.status} cannot be ${opts.action}; allowed from: ${opts.from.join(', ')}`,
    )
  }
  const { set, events } = opts.next(current)
  const now = ctx.clock.now()
  const row: ChangeRow = { ...current, ...set, seq: current.seq + events.length, updatedAt: now } as ChangeRow
  const done = await commit(
    ctx,
    audit,
    ctx.db.orm
      .update(changes)
      .set({ ...set, seq: row.seq, updatedAt: now })
      .where(and(eq(changes.id, id), eq(changes.orgId, orgId), eq(changes.seq, current.seq)))
      .returning({ id: changes.id }),
    {
      orgId,
      action: `change.${opts.action}`,
      targetType: 'change',
      targetId: id,
      summary: { from: current.status, to: row.status },
    },
    eventsOf(row, events, current.seq + 1, now),
    now,
  )
  if (!done) throw ApiError.conflict('The change was modified at the same time; try again')
  return toView(row)
}

export async function linkTicket(
  ctx: AppContext,
  orgId: string,
  id: string,
  ticketId: string,
  audit: Acting,
): Promise<ChangeView> {
  const current = await requireChange(ctx.db.orm, orgId, id)
  if (current.ticket) throw ApiError.conflict('The change is already linked to a ticket')
  return attachTicket(ctx, orgId, id, await checkTicket(ctx, orgId, ticketId), audit)
}

/** Links a ticket `checkTicket` accepted: `change.ticket_linked`, whose delivery brings the ticket up to date. */
function attachTicket(
  ctx: AppContext,
  orgId: string,
  id: string,
  link: ChangeTicketLink,
  audit: Acting,
): Promise<ChangeView> {
  return move(
    ctx,
    orgId,
    id,
    {
      action: 'ticket_linked',
      from: OPEN_STATUSES,
      next: (row) => {
        if (row.ticket) throw ApiError.conflict('The change is already linked to a ticket')
        return { set: { ticket: link }, events: [{ type: 'change.ticket_linked' }] }
      },
    },
    audit,
  )
}

/** The ticket, if this organization may link it: an open ticket of its mapped company on a filtered board. */
async function checkTicket(ctx: AppContext, orgId: string, ticketId: string): Promise<ChangeTicketLink> {
  const psa = await psaFor(ctx, orgId)
  if (!psa.settings.enabled)
    throw ApiError.conflict('Change management with the PSA is turned off for this organization')
  const company = psa.settings.company
  if (!company)
    throw ApiError.conflict('No PSA company is mapped to this organization (PUT /api/v1/changes/settings)')
  let ticket: Awaited<ReturnType<ChangeManagementOperations['getTicket']>>
  try {
    ticket = await psa.ops.getTicket(psa.credentials, ticketId, psa.env)
  } catch (err) {
    if (err instanceof VendorError && err.status === 404)
      throw ApiError.invalid('ticketId', `ticket ${ticketId} does not exist`)
    vendorFailure(err, psa.secrets)
  }
  if (ticket.companyId !== company.id)
    throw ApiError.invalid(
      'ticketId',
      `ticket ${ticketId} belongs to another company than this organization's`,
    )
  if (company.boardIds.length && !company.boardIds.includes(ticket.boardId))
    throw ApiError.invalid(
      'ticketId',
      `ticket ${ticketId} is on board "${ticket.boardName}", which is not one of the filtered boards`,
    )
  if (ticket.closed) throw ApiError.invalid('ticketId', `ticket ${ticketId} is closed`)
  return {
    integrationId: psa.integration.id,
    ticketId: ticket.id,
    number: ticket.number,
    summary: ticket.summary,
    boardId: ticket.boardId,
    boardName: ticket.boardName,
    companyId: ticket.companyId,
    url: ticket.url,
  }
}

export async function approve(
  ctx: AppContext,
  orgId: string,
  id: string,
  input: { role: ApprovalRole; comment: string },
  audit: Acting,
) {
  return move(
    ctx,
    orgId,
    id,
    {
      action: 'approved',
      from: ['created'],
      next: (row) => {
        const approvals = row.approvals as Approval[]
        if (approvals.some((a) => a.role === input.role))
          throw ApiError.conflict(`The ${input.role} approval is already in`)
        const who = (input.role === 'technical' ? row.technicalApprover : row.operationalApprover) as Person
        const approval: Approval = {
          role: input.role,
          ...who,
          comment: input.comment,
          at: ctx.clock.now().toISOString(),
        }
        const all = [...approvals, approval]
        const full = all.length === 2
        return {
          set: { approvals: all, ...(full ? { status: 'fully_approved' } : {}) },
          events: [
            { type: 'change.approved', details: { approval } },
            ...(full ? [{ type: 'change.fully_approved' }] : []),
          ],
        }
      },
    },
    audit,
  )
}

export async function schedule(
  ctx: AppContext,
  orgId: string,
  id: string,
  input: { window?: { start: Date; end: Date } | undefined },
  audit: Acting,
) {
  return move(
    ctx,
    orgId,
    id,
    {
      action: 'scheduled',
      from: ['fully_approved'],
      next: (row) => {
        const start = input.window?.start ?? row.windowStart
        const end = input.window?.end ?? row.windowEnd
        if (!start || !end)
          throw ApiError.invalid('window', 'an implementation window (start, end) is required to schedule')
        return {
          set: { status: 'scheduled', windowStart: start, windowEnd: end },
          events: [{ type: 'change.scheduled' }],
        }
      },
    },
    audit,
  )
}

export async function start(
  ctx: AppContext,
  orgId: string,
  id: string,
  input: { implementer: Person },
  audit: Acting,
) {
  return move(
    ctx,
    orgId,
    id,
    {
      action: 'started',
      from: ['scheduled'],
      next: (row) => ({
        set: {
          status: 'in_progress',
          outcome: {
            ...(row.outcome as Outcome),
            implementer: input.implementer,
            startedAt: ctx.clock.now().toISOString(),
          },
        },
        events: [{ type: 'change.started' }],
      }),
    },
    audit,
  )
}

export async function complete(
  ctx: AppContext,
  orgId: string,
  id: string,
  input: { completionNotes: string; testResults: string },
  audit: Acting,
) {
  return move(
    ctx,
    orgId,
    id,
    {
      action: 'completed',
      from: ['in_progress'],
      next: (row) => ({
        set: {
          status: 'completed',
          outcome: { ...(row.outcome as Outcome), ...input, completedAt: ctx.clock.now().toISOString() },
        },
        events: [{ type: 'change.completed' }],
      }),
    },
    audit,
  )
}

export async function fail(
  ctx: AppContext,
  orgId: string,
  id: string,
  input: { failureReason: string; rollbackNotes: string },
  audit: Acting,
) {
  return move(
    ctx,
    orgId,
    id,
    {
      action: 'failed',
      from: ['in_progress'],
      next: (row) => ({
        set: { status: 'failed', outcome: { ...(row.outcome as Outcome), ...input } },
        events: [{ type: 'change.failed' }],
      }),
    },
    audit,
  )
}

export async function cancel(
  ctx: AppContext,
  orgId: string,
  id: string,
  input: { reason: string },
  audit: Acting,
) {
  return move(
    ctx,
    orgId,
    id,
    {
      action: 'cancelled',
      from: OPEN_STATUSES,
      next: (row) => ({
        set: { status: 'cancelled', outcome: { ...(row.outcome as Outcome), cancelReason: input.reason } },
        events: [{ type: 'change.cancelled' }],
      }),
    },
    audit,
  )
}

/** Records people the PSA has no member for, each email once. */
export async function addUnscheduled(
  db: Executor,
  orgId: string,
  id: string,
  people: UnscheduledResource[],
  now: Date,
) {
  if (!people.length) return
  const row = await requireChange(db, orgId, id)
  const have = row.unscheduledResources as UnscheduledResource[]
  const known = new Set(have.map((p) => p.email.toLowerCase()))
  const fresh = people.filter((p) => !known.has(p.email.toLowerCase()))
  if (!fresh.length) return
  await db
    .update(changes)
    .set({ unscheduledResources: [...have, ...fresh], updatedAt: now })
    .where(and(eq(changes.id, id), eq(changes.orgId, orgId)))
}
