/** The change control itself: `GET|POST /changes`, `GET /changes/{id}`. */

import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { CHANGE_STATUSES, personSchema, RISKS } from '../../../changes/model.ts'
import { createChange, getChange, listChanges } from '../../../changes/service.ts'
import type { AppContext } from '../../../context.ts'
import type { Fanout } from '../../../delivery/types.ts'
import type { AppEnv } from '../../env.ts'
import { errorResponses } from '../../errors.ts'
import { idParams, pageQuery, paginated } from '../../schemas.ts'
import { json, jsonBody } from '../shared.ts'
import { changeSchema, orgQuery, out, TAG, text, toWindow, windowSchema } from './schemas.ts'
import { actingOf, orgOf } from './shared.ts'

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

export function crudRoutes(app: OpenAPIHono<AppEnv>, ctx: AppContext, fanouts: readonly Fanout[]) {
  const org = (c: Context<AppEnv>, orgId: string | undefined) => orgOf(ctx, c, orgId)
  const acting = (c: Context<AppEnv>) => actingOf(ctx, fanouts, c)

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
}
