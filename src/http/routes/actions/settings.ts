/** `GET|PUT /actions/settings`: an organization's approval rule (who may approve its actions). */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { getApproverScope, setApproverScope } from '../../../actions/store.ts'
import type { AppContext } from '../../../context.ts'
import { recordAudit } from '../../../store/audit.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { actorOf, resolveOrgId } from '../../principal.ts'
import { uuidSchema } from '../../schemas.ts'
import { json, jsonBody } from '../shared.ts'
import { TAG } from './schemas.ts'

const settingsSchema = z
  .object({
    orgId: z.uuid(),
    approverScope: z.enum(['any', 'partner']).openapi({
      description:
        '`any`: any other key of the organization may approve; `partner`: only a partner or system key may',
    }),
  })
  .openapi('ActionSettings')

export function settingsRoutes(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  const db = ctx.db.orm

  app.openapi(
    createRoute({
      method: 'get',
      path: '/settings',
      tags: [TAG],
      summary: "An organization's approval rule",
      request: { query: z.object({ orgId: uuidSchema.optional() }) },
      responses: { 200: json(settingsSchema, 'Settings'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const orgId = await resolveOrgId(db, c.var.principal, c.req.valid('query').orgId)
      return c.json({ orgId, approverScope: await getApproverScope(db, orgId) }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'put',
      path: '/settings',
      tags: [TAG],
      summary: "Set an organization's approval rule (partner and system keys)",
      description: 'An organization key cannot change who may approve its own actions.',
      request: {
        body: jsonBody(
          z
            .strictObject({ orgId: uuidSchema.optional(), approverScope: z.enum(['any', 'partner']) })
            .openapi('ActionSettingsUpdate'),
        ),
      },
      responses: { 200: json(settingsSchema, 'Settings'), ...errorResponses(401, 403, 404, 422) },
    }),
    async (c) => {
      const p = c.var.principal
      const b = c.req.valid('json')
      if (p.scope === 'organization')
        throw ApiError.forbidden('Only a partner or system key may change who approves actions')
      const orgId = await resolveOrgId(db, p, b.orgId)
      const now = ctx.clock.now()
      await db.transaction(async (tx) => {
        await setApproverScope(tx, orgId, b.approverScope, now)
        await recordAudit(
          tx,
          {
            actor: actorOf(p),
            orgId,
            action: 'action.settings.update',
            targetType: 'org',
            targetId: orgId,
            summary: { approverScope: b.approverScope },
            requestId: c.var.requestId,
          },
          now,
        )
      })
      return c.json({ orgId, approverScope: b.approverScope }, 200)
    },
  )
}
