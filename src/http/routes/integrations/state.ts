/** `POST /integrations/{id}/activate|disable|default`: an integration's state changes, one route each. */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import {
  activateIntegration,
  disableIntegration,
  setDefaultIntegration,
} from '../../../integrations/service.ts'
import type { AppEnv } from '../../env.ts'
import { envelope, envelopeErrorResponses } from '../../envelope.ts'
import { scopeOf } from '../../principal.ts'
import { idParams } from '../../schemas.ts'
import { auditOf } from '../shared.ts'
import { integrationResource, integrationSchema, TAG } from './schemas.ts'

export function stateRoutes(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  const one = (
    method: 'post',
    path: string,
    summary: string,
    description: string,
    message: string,
    act: typeof activateIntegration,
  ) =>
    app.openapi(
      createRoute({
        method,
        path,
        tags: [TAG],
        summary,
        description,
        request: { params: idParams },
        responses: {
          200: {
            description: 'Done',
            content: { 'application/json': { schema: envelope(integrationSchema) } },
          },
          ...envelopeErrorResponses(401, 404, 422),
        },
      }),
      async (c) => {
        const updated = await act(ctx, scopeOf(c.var.principal), c.req.valid('param').id, auditOf(c))
        return c.json({ success: true as const, message, data: integrationResource(updated), meta: {} }, 200)
      },
    )

  one(
    'post',
    '/{id}/activate',
    'Activate an integration',
    'A disabled integration whose credentials were verified becomes `active` at once, without re-verifying. One ' +
      'never verified, or in `error`, returns to `pending_verify` and is verified again.',
    'Integration activated successfully',
    activateIntegration,
  )
  one(
    'post',
    '/{id}/disable',
    'Disable an integration',
    'Moves it to `inactive`: no operations are routed to it and it is not probed until activated again.',
    'Integration disabled successfully',
    disableIntegration,
  )
  one(
    'post',
    '/{id}/default',
    'Make this the default instance',
    'The default instance of a provider is used whenever no instance is named. The previous default stops being one.',
    'Default integration set successfully',
    setDefaultIntegration,
  )
}
