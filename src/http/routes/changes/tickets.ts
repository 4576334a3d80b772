/**
 * A change's PSA ticket: `GET /changes/ticket-search` (the mapped company's tickets), `PUT|GET
 * /changes/{id}/ticket` (link it; the widget, fetched fresh) and `POST /changes/{id}/time-entries`.
 */

import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { getChange, linkTicket, psaFor, psaForTicket, vendorFailure } from '../../../changes/service.ts'
import type { AppContext } from '../../../context.ts'
import type { Fanout } from '../../../delivery/types.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { dateTime, idParams } from '../../schemas.ts'
import { json, jsonBody } from '../shared.ts'
import { changeSchema, orgQuery, out, TAG, ticketInfo } from './schemas.ts'
import { actingOf, orgOf } from './shared.ts'

/** `GET /ticket-search`: before `/{id}`, which would take the path. */
export function ticketSearchRoute(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  const org = (c: Context<AppEnv>, orgId: string | undefined) => orgOf(ctx, c, orgId)

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
}

export function ticketRoutes(app: OpenAPIHono<AppEnv>, ctx: AppContext, fanouts: readonly Fanout[]) {
  const org = (c: Context<AppEnv>, orgId: string | undefined) => orgOf(ctx, c, orgId)
  const acting = (c: Context<AppEnv>) => actingOf(ctx, fanouts, c)

  app.openapi(
    createRoute({
      method: 'put',
      path: '/{id}/ticket',
      tags: [TAG],
      summary: 'Link a PSA ticket',
      description:
        "The ticket must be an open ticket of the organization's mapped company on a filtered board (422 " +
        'otherwise). Then, as deliveries: an internal note with the change, resources (creator, approvers, vCAB ' +
        'members) scheduled on the ticket; for a change already past `created`, what its transitions so far ' +
        'post (approval notes, the plan and schedule once scheduled, "Implementation Started"), in their order; ' +
        "then the status the change's state maps to, if configured.",
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
      const p = await psaForTicket(ctx, orgId, change)
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
      const p = await psaForTicket(ctx, orgId, change)
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
}
