import { createRoute, z } from '@hono/zod-openapi'
import { sql } from 'drizzle-orm'
import type { AppContext } from '../../context.ts'
import { migrationState } from '../../store/migrate.ts'
import { router } from '../env.ts'

const healthSchema = z.object({ status: z.literal('ok') })
const readySchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  database: z.enum(['ok', 'unreachable']),
  migrations: z.object({ applied: z.number().int(), expected: z.number().int(), upToDate: z.boolean() }),
})

export function healthRoutes(ctx: AppContext) {
  const app = router()

  app.openapi(
    createRoute({
      method: 'get',
      path: '/healthz',
      tags: ['Health'],
      summary: 'Liveness',
      description: 'The process is up. No authentication.',
      security: [],
      responses: { 200: { description: 'Alive', content: { 'application/json': { schema: healthSchema } } } },
    }),
    (c) => c.json({ status: 'ok' as const }, 200),
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/readyz',
      tags: ['Health'],
      summary: 'Readiness',
      description: 'The database is reachable and every migration is applied. No authentication.',
      security: [],
      responses: {
        200: { description: 'Ready', content: { 'application/json': { schema: readySchema } } },
        503: { description: 'Not ready', content: { 'application/json': { schema: readySchema } } },
      },
    }),
    async (c) => {
      try {
        await ctx.db.orm.execute(sql`select 1`)
      } catch {
        const body = {
          status: 'not_ready' as const,
          database: 'unreachable' as const,
          migrations: { applied: 0, expected: 0, upToDate: false },
        }
        return c.json(body, 503)
      }
      const migrations = await migrationState(ctx.db)
      const body = {
        status: migrations.upToDate ? ('ready' as const) : ('not_ready' as const),
        database: 'ok' as const,
        migrations,
      }
      return c.json(body, migrations.upToDate ? 200 : 503)
    },
  )

  return app
}
