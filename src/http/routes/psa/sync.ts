/** `POST /psa/connections/{id}/sync`: queue a sync of the connection's mapped tickets now. */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import { requestSync } from '../../../psa/service.ts'
import type { AppEnv } from '../../env.ts'
import { errorResponses } from '../../errors.ts'
import { scopeOf } from '../../principal.ts'
import { idParams, timestamp } from '../../schemas.ts'
import { json } from '../shared.ts'
import { CONNECTIONS, syncStatusEnum, TAG } from './schemas.ts'

export function syncRoute(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  app.openapi(
    createRoute({
      method: 'post',
      path: `${CONNECTIONS}/{id}/sync`,
      tags: [TAG],
      summary: 'Sync ticket statuses now',
      description:
        "Queues a sync of the connection's mapped tickets (or reports the one already queued or running). " +
        '`lastSyncStatus` goes `queued` → `running` → `completed` or `failed` (with `lastSyncError`), and ' +
        '`lastSync` holds its counts. A paused connection is not synced (409).',
      request: { params: idParams },
      responses: {
        202: json(
          z.object({
            id: z.uuid().openapi({ description: 'The connection' }),
            provider: z.string(),
            syncedAt: timestamp.openapi({ description: 'When the sync was queued' }),
            status: syncStatusEnum,
            syncId: z.uuid(),
          }),
          'Queued',
        ),
        ...errorResponses(401, 404, 409, 422),
      },
    }),
    async (c) => {
      const { connection, run } = await requestSync(ctx, scopeOf(c.var.principal), c.req.valid('param').id)
      return c.json(
        {
          id: connection.id,
          provider: connection.provider,
          syncedAt: run.queuedAt.toISOString(),
          status: run.status as z.infer<typeof syncStatusEnum>,
          syncId: run.id,
        },
        202,
      )
    },
  )
}
