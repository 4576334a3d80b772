/** `GET /integrations/{id}/resources` (the kinds an integration reads) and `…/resources/{kind}` (one page of one). */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { ResourceKindInfo } from '../../../connectors/types.ts'
import type { AppContext } from '../../../context.ts'
import { loadCredentials } from '../../../integrations/service.ts'
import type { AppEnv } from '../../env.ts'
import { envelopeErrorResponses, envelopeErrorSchema } from '../../envelope.ts'
import { scopeOf } from '../../principal.ts'
import { uuidSchema } from '../../schemas.ts'
import { listPage, offered } from './page.ts'
import { kindEnum, listQuery, listSchema, TAG, vendorErrorSchema, vendorResponses } from './schemas.ts'

const kindInfoSchema = z
  .object({
    kind: kindEnum,
    description: z.string(),
    filters: z
      .array(z.object({ name: z.string(), description: z.string() }))
      .openapi({ description: 'Query parameters this kind accepts' }),
  })
  .openapi('ResourceKind')

const kindParams = z.object({
  id: uuidSchema.openapi({ param: { name: 'id', in: 'path' } }),
  kind: kindEnum.openapi({ param: { name: 'kind', in: 'path' } }),
})

function kindInfo(k: ResourceKindInfo) {
  return {
    kind: k.kind,
    description: k.description,
    filters: Object.entries(k.filters ?? {}).map(([name, description]) => ({ name, description })),
  }
}

export function byIntegrationRoutes(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}/resources',
      tags: [TAG],
      summary: 'What an integration can read',
      description:
        'The resource kinds this integration reads at its vendor (devices, alerts, users…), each with the filters ' +
        'it accepts. Every kind has one normalized shape across vendors.',
      request: { params: z.object({ id: uuidSchema.openapi({ param: { name: 'id', in: 'path' } }) }) },
      responses: {
        200: {
          description: 'Kinds',
          content: {
            'application/json': {
              schema: z.object({
                success: z.literal(true),
                data: z.array(kindInfoSchema),
                meta: z.object({ integration_id: z.uuid(), provider: z.string() }),
              }),
            },
          },
        },
        ...envelopeErrorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const id = c.req.valid('param').id
      const found = await loadCredentials(ctx, scopeOf(c.var.principal), id)
      return c.json(
        {
          success: true as const,
          data: offered(found.connector).map(kindInfo),
          meta: { integration_id: found.integration.id, provider: found.integration.provider },
        },
        200,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}/resources/{kind}',
      tags: [TAG],
      summary: 'Read resources of one kind',
      description:
        'One page of the kind, read at the vendor now and normalized. Other query parameters are the kind’s ' +
        'filters (an unknown one is a 400). Vendor errors come back with the vendor’s own message: a rate limit ' +
        'as 429 with `Retry-After`, a refusal of the stored credentials or a vendor failure as 502.',
      request: { params: kindParams, query: listQuery },
      responses: {
        200: { description: 'A page', content: { 'application/json': { schema: listSchema } } },
        ...vendorResponses,
        ...envelopeErrorResponses(401, 409, 422),
        404: {
          description: 'No such integration, or it offers no such kind, or the vendor has no such record',
          content: { 'application/json': { schema: z.union([envelopeErrorSchema, vendorErrorSchema]) } },
        },
      },
    }),
    async (c) => {
      const { id, kind } = c.req.valid('param')
      const found = await loadCredentials(ctx, scopeOf(c.var.principal), id)
      // The page is validated against the kind's own schema inside; the route's union only documents it.
      return (await listPage(ctx, c, found, kind, c.req.valid('query'))) as never
    },
  )
}
