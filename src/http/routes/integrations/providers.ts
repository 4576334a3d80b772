/** `GET /integrations/providers`: every provider Patchbay can connect to, and what configuring one takes. */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { describeActions } from '../../../actions/describe.ts'
import type { AppContext } from '../../../context.ts'
import { configuredProviderIds } from '../../../integrations/service.ts'
import { describeCredentialField, providerCredentialFieldSchema } from '../../../vault/mask.ts'
import type { AppEnv } from '../../env.ts'
import { envelope, envelopeErrorResponses } from '../../envelope.ts'
import { resolveOrgId } from '../../principal.ts'
import { orgIdField, TAG } from './schemas.ts'

const providerSchema = z
  .object({
    name: z.string(),
    display_name: z.string(),
    category: z.string(),
    capabilities: z.array(z.string()),
    credential_schema: z.record(z.string(), providerCredentialFieldSchema),
    credential_rules: z
      .array(z.object({ one_of: z.array(z.array(z.string())), description: z.string() }))
      .openapi({
        description: 'For each rule, every field of at least one of its groups must be given',
        example: [
          {
            one_of: [['username', 'password'], ['oauthToken']],
            description: 'Give username and password (Basic auth), or oauthToken.',
          },
        ],
      }),
    is_configured: z.boolean(),
    actions: z
      .array(
        z.object({
          name: z.string(),
          description: z.string(),
          needs_approval: z.boolean(),
          has_preview: z.boolean(),
          idempotency: z.string().openapi({ description: 'How a repeat at the vendor is avoided' }),
          input_schema: z
            .record(z.string(), z.unknown())
            .openapi({ description: 'JSON Schema of `input` for POST /integrations/{id}/actions' }),
        }),
      )
      .openapi({
        description: 'Writes this provider can make at its vendor (README, "Actions and approvals")',
      }),
  })
  .openapi('Provider')

export function providerRoutes(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  const db = ctx.db.orm

  app.openapi(
    createRoute({
      method: 'get',
      path: '/providers',
      tags: [TAG],
      summary: 'List available providers',
      description:
        'Every provider Patchbay can connect to, with its capabilities, the credential fields to configure it ' +
        '(`sensitive` fields are encrypted and never shown again; `destination` fields decide where requests go, ' +
        'and changing one needs every sensitive field given again in the same request) and whether the ' +
        'organization has configured it.',
      request: { query: z.object({ orgId: orgIdField }) },
      responses: {
        200: {
          description: 'Providers',
          content: { 'application/json': { schema: envelope(z.array(providerSchema)) } },
        },
        ...envelopeErrorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const orgId = await resolveOrgId(db, c.var.principal, c.req.valid('query').orgId)
      const configured = await configuredProviderIds(ctx, orgId)
      const data = ctx.connectors.all().map(({ descriptor: d, actions }) => ({
        name: d.id,
        display_name: d.displayName,
        category: d.category,
        capabilities: [...d.capabilities],
        credential_schema: Object.fromEntries(
          Object.entries(d.credentialSchema).map(([name, field]) => [name, describeCredentialField(field)]),
        ),
        credential_rules: (d.credentialRules ?? []).map((r) => ({
          one_of: r.oneOf.map((g) => [...g]),
          description: r.description,
        })),
        is_configured: configured.has(d.id),
        actions: describeActions(actions),
      }))
      return c.json(
        { success: true as const, message: 'Providers retrieved successfully', data, meta: {} },
        200,
      )
    },
  )
}
