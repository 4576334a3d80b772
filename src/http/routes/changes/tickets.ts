import { createRoute, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { listDevices, runDeviceSync } from '../../../changes/devices.ts'
import { CHANGE_STATUSES, personSchema, RISKS } from '../../../changes/model.ts'
import {
  type Acting,
  approve,
  cancel,
  complete,
  createChange,
  fail,
  getChange,
  getSettings,
  linkTicket,
  listChanges,
  psaFor,
  saveSettings,
  schedule,
  start,
  vendorFailure,
} from '../../../changes/service.ts'
import { changeSettingsSchema } from '../../../changes/settings.ts'
import type { AppContext } from '../../../context.ts'
import { ingestEvents } from '../../../delivery/ingest.ts'
import type { Fanout } from '../../../delivery/types.ts'
import type { Database } from '../../../store/db.ts'
import type { AppEnv } from '../../env.ts'
import { router } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { resolveOrgId } from '../../principal.ts'
import { dateTime, idParams, pageQuery, paginated, uuidSchema } from '../../schemas.ts'
import { auditOf, json, jsonBody } from '../shared.ts'

const TAG = 'Changes'

const orgQuery = {
  orgId: uuidSchema.optional().openapi({ description: 'Required for partner and system keys' }),
}
const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max)
const windowSchema = z
  .strictObject({ start: dateTime(), end: dateTime() })
  .refine((w) => Date.parse(w.end) > Date.parse(w.start), {
    message: 'end must be after start',
    path: ['end'],
  })
  .openapi({ description: 'The implementation window' })
const toWindow = (w: { start: string; end: string } | undefined) =>
  w ? { start: new Date(w.start), end: new Date(w.end) } : undefined

const ticketLinkSchema = z.object({
  integrationId: z.uuid(),
  ticketId: z.string(),
  number: z.string(),
  summary: z.string(),
  boardId: z.string(),
  boardName: z.string(),
  companyId: z.string(),
  url: z.string(),
})

type ChangeOut = z.infer<typeof changeSchema>
/** The service's view, as the response schema types it (`outcome` is a free-form record there). */
const out = (v: unknown) => v as ChangeOut

const changeSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    title: z.string(),
    description: z.string(),
    implementationPlan: z.string(),
    window: z.object({ start: z.string().nullable(), end: z.string().nullable() }),
    risk: z.enum(RISKS),
    creator: personSchema,
    technicalApprover: personSchema,
    operationalApprover: personSchema,
    committee: z.boolean(),
    vcabMembers: z.array(personSchema),
    status: z.enum(CHANGE_STATUSES),
    approvals: z.array(
      z.object({
        role: z.enum(['technical', 'operational']),
        name: z.string(),
        email: z.string(),
        comment: z.string(),
        at: z.string(),
      }),
    ),
    outcome: z.record(z.string(), z.unknown()),
    ticket: ticketLinkSchema.nullable(),
    devices: z.array(
      z.object({ id: z.uuid(), hostname: z.string(), externalId: z.string(), integrationId: z.uuid() }),
    ),
    unknownHostnames: z.array(z.string()).openapi({ description: '`@hostname`s that matched no device' }),
    unscheduledResources: z
      .array(z.object({ name: z.string(), email: z.string(), role: z.string() }))
      .openapi({ description: 'People the PSA has no member for (by email)' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Change')

const createSchema = z
  .strictObject({
    title: text(200),
    description: z.string().max(20_000).openapi({ description: '`@hostname` references link devices' }),
    implementationPlan: z.string().max(20_000),
    window: windowSchema.optional(),
    risk: z.enum(RISKS),
    creator: personSchema,
    technicalApprover: personSchema,
    operationalApprover: personSchema,
    committee: z.boolean().default(false).openapi({ description: 'A vCAB (committee) change' }),
    vcabMembers: z.array(personSchema).max(50).default([]),
    ticketId: z
      .string()
      .regex(/^\d{1,10}$/, 'must be a ticket number')
      .optional()
      .openapi({
        description: 'Link this PSA ticket at once (see PUT /changes/{id}/ticket)',
        example: '1042',
      }),
  })
  .openapi('CreateChange')

export function changeRoutes(ctx: AppContext, fanouts: readonly Fanout[]) {
  const app = router()
  const acting = (c: Context<AppEnv>): Acting => ({
    ...auditOf(c),
    // The events join the caller's transaction: ingestEvents asks for a database and opens a transaction on it,
    // here the one already open.
    emit: (q, events) =>
      ingestEvents({ transaction: (fn) => fn(q) } as Database, fanouts, events, ctx.clock.now()),
  })
  const org = (c: Context<AppEnv>, orgId: string | undefined) =>
    resolveOrgId(ctx.db.orm, c.var.principal, orgId)

  /** The org's PSA: the saved settings' integration, or `integrationId` (for the setup steps before saving). */
  async function psa(orgId: string, integrationId: string | undefined) {
    if (!integrationId) return psaFor(ctx, orgId)
    const saved = await getSettings(ctx, orgId)
    return psaFor(ctx, orgId, {
      integrationId,
      enabled: saved?.enabled ?? false,
      autoUpdateStatus: saved?.autoUpdateStatus ?? false,
      statuses: saved?.statuses ?? {},
      company: saved?.company ?? null,
      configurationTypes: saved?.configurationTypes ?? [],
    })
  }

  app.openapi(
    createRoute({
      method: 'get',
      path: '/settings',
      tags: [TAG],
      summary: "The organization's change-management settings",
      request: { query: z.object(orgQuery) },
      responses: { 200: json(changeSettingsSchema, 'Settings'), ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const orgId = await org(c, c.req.valid('query').orgId)
      const s = await getSettings(ctx, orgId)
      if (!s) throw ApiError.notFound('Change settings')
      return c.json(s, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'put',
      path: '/settings',
      tags: [TAG],
      summary: 'Save change-management settings',
      description:
        'Setup steps 2–6: the PSA integration, company mapping with board filter, configuration-type mapping and ' +
        "status names per lifecycle event. Each status name is checked against the mapped boards' statuses (422 " +
        'naming the board and the statuses it has).',
      request: { query: z.object(orgQuery), body: jsonBody(changeSettingsSchema) },
      responses: {
        200: json(changeSettingsSchema, 'Saved'),
        ...errorResponses(400, 401, 404, 409, 422, 502),
      },
    }),
    async (c) => {
      const orgId = await org(c, c.req.valid('query').orgId)
      return c.json(await saveSettings(ctx, orgId, c.req.valid('json'), auditOf(c)), 200)
    },
  )

  const namedList = z.object({ data: z.array(z.object({ id: z.string(), name: z.string() })) })

  app.openapi(
    createRoute({
      method: 'get',
      path: '/companies',
      tags: [TAG],
      summary: 'Search PSA companies (company mapping)',
      request: {
        query: z.object({
          ...orgQuery,
          integrationId: uuidSchema.optional(),
          q: z.string().max(100).optional(),
          cursor: z.string().max(500).optional(),
        }),
      },
      responses: {
        200: json(namedList.extend({ next: z.string().nullable() }), 'Companies'),
        ...errorResponses(400, 401, 404, 409, 422, 502),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const p = await psa(await org(c, q.orgId), q.integrationId)
      try {
        const page = await p.ops.searchCompanies(p.credentials, { q: q.q, cursor: q.cursor }, p.env)
        return c.json({ data: page.items, next: page.next ?? null }, 200)
      } catch (err) {
        return vendorFailure(err, p.secrets)
      }
    },
  )

  for (const [path, summary, fn] of [
    ['/boards', 'PSA service boards (board filter)', 'listBoards'],
    [
      '/configuration-types',
      'PSA configuration types (configuration-type mapping)',
      'listConfigurationTypes',
    ],
  ] as const) {
    app.openapi(
      createRoute({
        method: 'get',
        path,
        tags: [TAG],
        summary,
        request: { query: z.object({ ...orgQuery, integrationId: uuidSchema.optional() }) },
        responses: { 200: json(namedList, 'List'), ...errorResponses(400, 401, 404, 409, 422, 502) },
      }),
      async (c) => {
        const q = c.req.valid('query')
        const p = await psa(await org(c, q.orgId), q.integrationId)
        try {
          return c.json({ data: await p.ops[fn](p.credentials, p.env) }, 200)
        } catch (err) {
          return vendorFailure(err, p.secrets)
        }
      },
    )
  }

  const ticketInfo = z.object({
    id: z.string(),
    number: z.string(),
    summary: z.string(),
    status: z.string(),
    boardId: z.string(),
    boardName: z.string(),
    url: z.string(),
  })

  app.openapi(
    createRoute({
      method: 'get',
      path: '/ticket-search',
      tags: [TAG],
      summary: "Search the mapped company's open tickets by number or summary",
      description: 'Only tickets on the filtered boards (all boards without a filter); 25 a page.',
      request: {
        query: z.object({
          ...orgQuery,
          q: z.string().max(100).optional(),
          cursor: z.string().max(500).optional(),
        }),
      },
      responses: {
        200: json(z.object({ data: z.array(ticketInfo), next: z.string().nullable() }), 'Tickets'),
        ...errorResponses(400, 401, 404, 409, 422, 502),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const p = await psaFor(ctx, await org(c, q.orgId))
      const company = p.settings.company
      if (!company) throw ApiError.conflict('No PSA company is mapped to this organization')
      try {
        const page = await p.ops.searchTickets(
          p.credentials,
          { companyId: company.id, boardIds: company.boardIds, q: q.q, cursor: q.cursor },
          p.env,
        )
        return c.json({ data: page.items, next: page.next ?? null }, 200)
      } catch (err) {
        return vendorFailure(err, p.secrets)
      }
    },
  )

  const syncResult = z
    .object({
      created: z.number().int(),
      updated: z.number().int(),
      skipped: z.number().int(),
      pages: z.number().int(),
      complete: z.boolean().openapi({ description: 'False when the PSA stopped it; the next sync resumes' }),
      error: z.string().nullable(),
    })
    .openapi('DeviceSyncResult')

  app.openapi(
    createRoute({
      method: 'post',
      path: '/device-sync',
      tags: [TAG],
      summary: 'Import PSA configurations of mapped types as devices',
      description:
        "Setup step 5. Imports the mapped company's active configurations whose type is mapped; resumes from the " +
        'page a previous sync stopped at. Also runs every PATCHBAY_PSA_SYNC_INTERVAL_MS.',
      request: { query: z.object(orgQuery) },
      responses: { 200: json(syncResult, 'Result'), ...errorResponses(400, 401, 404, 409, 422) },
    }),
    async (c) => {
      const orgId = await org(c, c.req.valid('query').orgId)
      return c.json(await runDeviceSync(ctx, orgId, auditOf(c)), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: [TAG],
      summary: 'List change controls',
      request: { query: z.object({ ...orgQuery, status: z.enum(CHANGE_STATUSES).optional(), ...pageQuery }) },
      responses: { 200: json(paginated(changeSchema), 'Changes'), ...errorResponses(400, 401, 404, 422) },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const { items, total } = await listChanges(ctx, await org(c, q.orgId), q, q.status)
      return c.json({ data: items.map(out), pagination: { page: q.page, limit: q.limit, total } }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: [TAG],
      summary: 'Create a change control',
      description:
        'Raises `change.created`; with `ticketId`, links the ticket as PUT /changes/{id}/ticket does.',
      request: { query: z.object(orgQuery), body: jsonBody(createSchema) },
      responses: { 201: json(changeSchema, 'Created'), ...errorResponses(400, 401, 404, 409, 422, 502) },
    }),
    async (c) => {
      const orgId = await org(c, c.req.valid('query').orgId)
      const b = c.req.valid('json')
      const created = await createChange(ctx, orgId, { ...b, window: toWindow(b.window) }, acting(c))
      return c.json(out(created), 201)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: [TAG],
      summary: 'A change control',
      request: { params: idParams, query: z.object(orgQuery) },
      responses: { 200: json(changeSchema, 'The change'), ...errorResponses(400, 401, 404, 422) },
    }),
    async (c) => {
      const orgId = await org(c, c.req.valid('query').orgId)
      return c.json(out(await getChange(ctx, orgId, c.req.valid('param').id)), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'put',
      path: '/{id}/ticket',
      tags: [TAG],
      summary: 'Link a PSA ticket',
      description:
        "The ticket must be an open ticket of the organization's mapped company on a filtered board (422 " +
        'otherwise). Then, as deliveries: an internal note with the change, resources (creator, approvers, vCAB ' +
        'members) scheduled on the ticket, and the "created" status if configured.',
      request: {
        params: idParams,
        query: z.object(orgQuery),
        body: jsonBody(
          z.strictObject({
            ticketId: z
              .string()
              .regex(/^\d{1,10}$/, 'must be a ticket number')
              .openapi({ example: '1042' }),
          }),
        ),
      },
      responses: { 200: json(changeSchema, 'Linked'), ...errorResponses(400, 401, 404, 409, 422, 502) },
    }),
    async (c) => {
      const orgId = await org(c, c.req.valid('query').orgId)
      const r = await linkTicket(ctx, orgId, c.req.valid('param').id, c.req.valid('json').ticketId, acting(c))
      return c.json(out(r), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}/ticket',
      tags: [TAG],
      summary: 'The linked ticket (widget)',
      description:
        'Fetched fresh from the PSA: number, link, status, summary. With `email`, whether that person is a PSA ' +
        'member who can add time (and the member).',
      request: { params: idParams, query: z.object({ ...orgQuery, email: z.email().optional() }) },
      responses: {
        200: json(
          z.object({
            ticket: ticketInfo,
            timeEntry: z
              .object({ memberId: z.string(), memberIdentifier: z.string(), url: z.string() })
              .nullable()
              .openapi({ description: 'Null when `email` is no PSA member' }),
          }),
          'Ticket',
        ),
        ...errorResponses(400, 401, 404, 409, 422, 502),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const orgId = await org(c, q.orgId)
      const change = await getChange(ctx, orgId, c.req.valid('param').id)
      if (!change.ticket) throw ApiError.notFound('Linked ticket')
      const p = await psaFor(ctx, orgId)
      try {
        const t = await p.ops.getTicket(p.credentials, change.ticket.ticketId, p.env)
        const m = q.email ? await p.ops.findMember(p.credentials, q.email, p.env) : undefined
        return c.json(
          {
            ticket: t,
            timeEntry: m
              ? {
                  memberId: m.id,
                  memberIdentifier: m.identifier,
                  url: p.ops.timeEntryUrl(p.credentials, t.id),
                }
              : null,
          },
          200,
        )
      } catch (err) {
        return vendorFailure(err, p.secrets)
      }
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/time-entries',
      tags: [TAG],
      summary: 'Add a time entry to the linked ticket',
      description: 'For the PSA member whose email is `email` (422 when there is none).',
      request: {
        params: idParams,
        query: z.object(orgQuery),
        body: jsonBody(
          z.strictObject({
            email: z.email(),
            start: dateTime(),
            end: dateTime().optional(),
            notes: z.string().max(4000),
          }),
        ),
      },
      responses: {
        201: json(z.object({ id: z.string(), memberId: z.string() }), 'Created'),
        ...errorResponses(400, 401, 404, 409, 422, 502),
      },
    }),
    async (c) => {
      const orgId = await org(c, c.req.valid('query').orgId)
      const b = c.req.valid('json')
      if (b.end && Date.parse(b.end) <= Date.parse(b.start))
        throw ApiError.invalid('end', 'must be after start')
      const change = await getChange(ctx, orgId, c.req.valid('param').id)
      if (!change.ticket) throw ApiError.conflict('The change has no linked ticket')
      const p = await psaFor(ctx, orgId)
      try {
        const m = await p.ops.findMember(p.credentials, b.email, p.env)
        if (!m) throw ApiError.invalid('email', 'no PSA member has this email')
        const r = await p.ops.addTimeEntry(
          p.credentials,
          {
            ticketId: change.ticket.ticketId,
            memberId: m.id,
            start: new Date(b.start),
            end: b.end ? new Date(b.end) : undefined,
            notes: b.notes,
          },
          p.env,
        )
        return c.json({ id: r.id, memberId: m.id }, 201)
      } catch (err) {
        if (err instanceof ApiError) throw err
        return vendorFailure(err, p.secrets)
      }
    },
  )

  // Lifecycle transitions: each its own endpoint, 409 when the change's state does not allow it.
  const transition = <S extends z.ZodType>(
    path: string,
    summary: string,
    body: S,
    run: (orgId: string, id: string, b: z.output<S>, c: Context<AppEnv>) => Promise<unknown>,
  ) =>
    app.openapi(
      createRoute({
        method: 'post',
        path: `/{id}/${path}`,
        tags: [TAG],
        summary,
        request: { params: idParams, query: z.object(orgQuery), body: jsonBody(body) },
        responses: { 200: json(changeSchema, 'The change'), ...errorResponses(400, 401, 404, 409, 422) },
      }),
      // biome-ignore lint/suspicious/noExplicitAny: a generic route's input types do not narrow; zod validated them
      async (c: any) => {
        const orgId = await org(c, c.req.valid('query').orgId)
        const r = await run(orgId, c.req.valid('param').id, c.req.valid('json'), c)
        return c.json(out(r), 200)
      },
    )

  transition(
    'approve',
    'Record the technical or operational approval (created → fully_approved once both are in)',
    z.strictObject({ role: z.enum(['technical', 'operational']), comment: z.string().max(4000).default('') }),
    (o, id, b, c) => approve(ctx, o, id, b, acting(c)),
  )
  transition(
    'schedule',
    'Schedule the implementation (fully_approved → scheduled)',
    z.strictObject({ window: windowSchema.optional() }),
    (o, id, b, c) => schedule(ctx, o, id, { window: toWindow(b.window) }, acting(c)),
  )
  transition(
    'start',
    'Start the implementation (scheduled → in_progress)',
    z.strictObject({ implementer: personSchema }),
    (o, id, b, c) => start(ctx, o, id, b, acting(c)),
  )
  transition(
    'complete',
    'Complete the change (in_progress → completed)',
    z.strictObject({ completionNotes: z.string().max(4000), testResults: z.string().max(4000) }),
    (o, id, b, c) => complete(ctx, o, id, b, acting(c)),
  )
  transition(
    'fail',
    'Record a failed implementation; rollback required (in_progress → failed)',
    z.strictObject({ failureReason: text(4000), rollbackNotes: z.string().max(4000) }),
    (o, id, b, c) => fail(ctx, o, id, b, acting(c)),
  )
  transition(
    'cancel',
    'Cancel the change (from any open state)',
    z.strictObject({ reason: text(4000) }),
    (o, id, b, c) => cancel(ctx, o, id, b, acting(c)),
  )

  return app
}

const deviceSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    integrationId: z.uuid(),
    externalId: z.string().openapi({ description: "The PSA's configuration id" }),
    hostname: z.string(),
    deviceType: z.string(),
    sourceType: z.string().openapi({ description: "The PSA's configuration type" }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Device')

export function deviceRoutes(ctx: AppContext) {
  const app = router()
  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: [TAG],
      summary: 'Devices imported from the PSA (device sync)',
      request: { query: z.object({ ...orgQuery, ...pageQuery }) },
      responses: { 200: json(paginated(deviceSchema), 'Devices'), ...errorResponses(400, 401, 404, 422) },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, q.orgId)
      const { items, total } = await listDevices(ctx, orgId, q)
      return c.json(
        {
          data: items.map((d) => ({
            ...d,
            createdAt: d.createdAt.toISOString(),
            updatedAt: d.updatedAt.toISOString(),
          })),
          pagination: { page: q.page, limit: q.limit, total },
        },
        200,
      )
    },
  )
  return app
}
