/** `POST /integrations/{id}/actions`: ask an integration to act at its vendor. */
import { createRoute, z } from '@hono/zod-openapi'
import { requestAction } from '../../../actions/service.ts'
import type { AppContext } from '../../../context.ts'
import type { Fanout } from '../../../delivery/types.ts'
import { secretValues } from '../../../integrations/credentials.ts'
import { loadCredentials } from '../../../integrations/service.ts'
import { connectorEnv } from '../../../integrations/verification.ts'
import { router } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { scopeOf } from '../../principal.ts'
import { idParams } from '../../schemas.ts'
import { json, jsonBody } from '../shared.ts'
import { actionSchema, callerOf, TAG, toAction } from './schemas.ts'

const requestBody = z
  .strictObject({
    action: z
      .string()
      .min(1)
      .max(100)
      .openapi({ description: "One of the provider's `actions` (providers list)" }),
    input: z
      .record(z.string(), z.unknown())
      .default({})
      .openapi({ description: "Matching the action's `input_schema`" }),
  })
  .openapi('ActionRequest')

/** Mounted under `/integrations`. */
export function integrationActionRoutes(ctx: AppContext, fanouts: readonly Fanout[]) {
  const app = router()

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/actions',
      tags: [TAG],
      summary: 'Ask an integration to act at its vendor',
      description:
        "Validates the input against the action's schema (422 naming the fields). An action that needs approval " +
        "waits in `pending_approval` with the vendor's preview until another key approves it; one that needs " +
        'none is queued at once. Either way it is sent by the delivery engine.',
      request: { params: idParams, body: jsonBody(requestBody) },
      responses: {
        202: json(actionSchema, 'Recorded'),
        ...errorResponses(401, 404, 409, 422),
      },
    }),
    async (c) => {
      const p = c.var.principal
      const body = c.req.valid('json')
      const { integration, connector, credentials } = await loadCredentials(
        ctx,
        scopeOf(p),
        c.req.valid('param').id,
      )
      const definition = connector.actions?.find((a) => a.name === body.action)
      if (!definition) {
        const names = (connector.actions ?? []).map((a) => a.name)
        throw ApiError.invalid(
          'action',
          names.length
            ? `${connector.descriptor.displayName} has no action "${body.action}"; it has ${names.join(', ')}`
            : `${connector.descriptor.displayName} takes no actions`,
        )
      }
      const row = await requestAction(ctx, fanouts, callerOf(c), {
        orgId: integration.orgId,
        integrationId: integration.id,
        provider: integration.provider,
        integrationStatus: integration.status,
        definition,
        credentials,
        secrets: secretValues(connector.descriptor.credentialSchema, credentials),
        env: connectorEnv(ctx, integration.provider),
        input: body.input,
      })
      return c.json(toAction(row), 202)
    },
  )

  return app
}
