/**
 * Change-management setup: `GET|PUT /changes/settings` and the PSA lists the setup steps pick from (companies,
 * boards, configuration types).
 */

import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { getSettings, psaFor, saveSettings, vendorFailure } from '../../../changes/service.ts'
import { changeSettingsSchema } from '../../../changes/settings.ts'
import type { AppContext } from '../../../context.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { uuidSchema } from '../../schemas.ts'
import { auditOf, json, jsonBody } from '../shared.ts'
import { orgQuery, TAG } from './schemas.ts'
import { orgOf } from './shared.ts'

export function setupRoutes(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  const org = (c: Context<AppEnv>, orgId: string | undefined) => orgOf(ctx, c, orgId)

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
}
