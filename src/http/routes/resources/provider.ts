/** `GET /providers/{provider}/resources/{kind}`: the organization's default instance of the provider answers. */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import { findIntegration, IntegrationError, loadCredentials } from '../../../integrations/service.ts'
import type { AppEnv } from '../../env.ts'
import { envelopeErrorResponses, envelopeErrorSchema } from '../../envelope.ts'
import { resolveOrgId } from '../../principal.ts'
import { uuidSchema } from '../../schemas.ts'
import { listPage } from './page.ts'
import { kindEnum, listQuery, listSchema, TAG, vendorErrorSchema, vendorResponses } from './schemas.ts'

export function byProviderRoute(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/{provider}/resources/{kind}',
      tags: [TAG],
      summary: "Read resources from the provider's default instance",
      description:
        'Like `GET /integrations/{id}/resources/{kind}`, through the organization’s default instance of the ' +
        'provider (`is_default`; the first instance is the default until another is made so with ' +
        '`POST /integrations/{id}/default`). Partner and system keys name the organization with `orgId`.',
      request: {
        params: z.object({
          provider: z
            .string()
            .min(1)
            .openapi({ param: { name: 'provider', in: 'path' }, example: 'datto-rmm' }),
          kind: kindEnum.openapi({ param: { name: 'kind', in: 'path' } }),
        }),
        query: listQuery.extend({
          orgId: uuidSchema.optional().openapi({ description: 'The organization (partner and system keys)' }),
        }),
      },
      responses: {
        200: { description: 'A page', content: { 'application/json': { schema: listSchema } } },
        ...vendorResponses,
        ...envelopeErrorResponses(401, 409, 422),
        400: {
          description: `${vendorResponses[400].description}, or a partner or system key named no organization`,
          content: { 'application/json': { schema: z.union([vendorErrorSchema, envelopeErrorSchema]) } },
        },
        404: {
          description: 'No instance of the provider in the organization, or no such kind, or no such record',
          content: { 'application/json': { schema: z.union([envelopeErrorSchema, vendorErrorSchema]) } },
        },
      },
    }),
    async (c) => {
      const { provider, kind } = c.req.valid('param')
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, c.req.valid('query').orgId)
      const connector = ctx.connectors.get(provider)
      if (!connector) throw IntegrationError.notFound(`Provider "${provider}"`)
      const chosen = await findIntegration(ctx, orgId, provider)
      if (!chosen)
        throw IntegrationError.notFound(
          `${connector.descriptor.displayName} integration in this organization`,
        )
      const found = await loadCredentials(ctx, { kind: 'org', orgId }, chosen.id)
      return (await listPage(ctx, c, found, kind, c.req.valid('query'))) as never
    },
  )
}
