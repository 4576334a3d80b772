/** Devices imported from the PSA: `POST /changes/device-sync` runs the import, `GET /devices` lists them. */

import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { listDevices, runDeviceSync } from '../../../changes/devices.ts'
import type { AppContext } from '../../../context.ts'
import { type AppEnv, router } from '../../env.ts'
import { errorResponses } from '../../errors.ts'
import { resolveOrgId } from '../../principal.ts'
import { pageQuery, paginated } from '../../schemas.ts'
import { auditOf, json } from '../shared.ts'
import { orgQuery, TAG } from './schemas.ts'
import { orgOf } from './shared.ts'

/** `POST /changes/device-sync`. */
export function deviceSyncRoute(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  const org = (c: Context<AppEnv>, orgId: string | undefined) => orgOf(ctx, c, orgId)

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
