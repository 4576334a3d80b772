/**
 * Credential tests: `POST /integrations/test` (credentials not saved, or laid over a saved integration's) and
 * `POST /integrations/{id}/test` (the saved ones, recorded as a verification).
 */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import { testCredentials, verifyIntegrationNow } from '../../../integrations/service.ts'
import type { AppEnv } from '../../env.ts'
import { envelopeErrorResponses } from '../../envelope.ts'
import { resolveOrgId, scopeOf } from '../../principal.ts'
import { idParams, uuidSchema } from '../../schemas.ts'
import { auditOf } from '../shared.ts'
import {
  integrationResource,
  integrationSchema,
  jsonObject,
  orgIdField,
  TAG,
  testData,
  testMessage,
  testResultSchema,
} from './schemas.ts'

const testBody = z
  .strictObject({
    provider: z.string().min(1),
    credentials: jsonObject,
    integration_id: uuidSchema.optional().openapi({
      description:
        "Lay the given credentials over this integration's saved ones (test a change before saving); " +
        'changing a `destination` field needs every stored sensitive field given again (else 422)',
    }),
    orgId: orgIdField,
  })
  .openapi('TestCredentials')

/** `POST /test`: the given credentials, nothing stored. */
export function testCredentialsRoute(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  const db = ctx.db.orm

  app.openapi(
    createRoute({
      method: 'post',
      path: '/test',
      tags: [TAG],
      summary: 'Test credentials without saving them',
      description:
        "Calls the provider's API with the given credentials (a real, cheap authenticated request) and reports " +
        "the outcome, with the vendor's error text verbatim when it refuses. Nothing is stored. " +
        '`success` is the outcome of the test.',
      request: { body: { required: true, content: { 'application/json': { schema: testBody } } } },
      responses: {
        200: {
          description: 'The test ran',
          content: {
            'application/json': {
              schema: z.object({
                success: z.boolean(),
                message: z.string(),
                data: testResultSchema,
                meta: z.object({}),
              }),
            },
          },
        },
        ...envelopeErrorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const body = c.req.valid('json')
      if (body.orgId) await resolveOrgId(db, c.var.principal, body.orgId)
      const outcome = await testCredentials(
        ctx,
        body.provider,
        body.credentials,
        body.integration_id ? { scope: scopeOf(c.var.principal), id: body.integration_id } : undefined,
      )
      const data = testData(body.provider, outcome)
      return c.json({ success: outcome.ok, message: testMessage(outcome), data, meta: {} }, 200)
    },
  )
}

/** `POST /{id}/test`: the saved credentials, recorded as background verification records them. */
export function testSavedIntegrationRoute(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/test',
      tags: [TAG],
      summary: 'Test a saved integration',
      description:
        "Runs the connector's verification against the stored credentials now (a real, cheap authenticated " +
        'request) and records the result as background verification does: `last_tested_at` is set, success ' +
        'makes a pending or failed integration `active`, failure puts it in `error`. A verification still ' +
        'queued is superseded. `success` is the outcome of the test; `data.integration` is the state after it.',
      request: { params: idParams },
      responses: {
        200: {
          description: 'The test ran',
          content: {
            'application/json': {
              schema: z.object({
                success: z.boolean(),
                message: z.string(),
                data: testResultSchema.extend({ integration: integrationSchema }),
                meta: z.object({}),
              }),
            },
          },
        },
        ...envelopeErrorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const { integration, outcome } = await verifyIntegrationNow(
        ctx,
        scopeOf(c.var.principal),
        c.req.valid('param').id,
        auditOf(c),
      )
      return c.json(
        {
          success: outcome.ok,
          message: testMessage(outcome),
          data: {
            ...testData(integration.provider, outcome),
            integration: integrationResource(integration),
          },
          meta: {},
        },
        200,
      )
    },
  )
}
