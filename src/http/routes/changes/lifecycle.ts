/**
 * A change's lifecycle: `POST /changes/{id}/approve|schedule|start|complete|fail|cancel`, each its own endpoint,
 * 409 when the change's state does not allow it.
 */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { personSchema } from '../../../changes/model.ts'
import { approve, cancel, complete, fail, schedule, start } from '../../../changes/service.ts'
import type { AppContext } from '../../../context.ts'
import type { Fanout } from '../../../delivery/types.ts'
import type { AppEnv } from '../../env.ts'
import { errorResponses } from '../../errors.ts'
import { idParams } from '../../schemas.ts'
import { json, jsonBody } from '../shared.ts'
import { changeSchema, orgQuery, out, TAG, text, toWindow, windowSchema } from './schemas.ts'
import { actingOf, orgOf } from './shared.ts'

export function lifecycleRoutes(app: OpenAPIHono<AppEnv>, ctx: AppContext, fanouts: readonly Fanout[]) {
  const org = (c: Context<AppEnv>, orgId: string | undefined) => orgOf(ctx, c, orgId)
  const acting = (c: Context<AppEnv>) => actingOf(ctx, fanouts, c)

  const transition = <S extends z.ZodType>(
    path: string,
    summary: string,
    body: S,
    run: (orgId: string, id: string, b: z.output<S>, c: Context<AppEnv>) => Promise<unknown>,
  ) =>
    app.openapi(
      createRoute({
        method: 'post',
        path: `/{id}/${path}`,
        tags: [TAG],
        summary,
        request: { params: idParams, query: z.object(orgQuery), body: jsonBody(body) },
        responses: { 200: json(changeSchema, 'The change'), ...errorResponses(400, 401, 404, 409, 422) },
      }),
      // biome-ignore lint/suspicious/noExplicitAny: a generic route's input types do not narrow; zod validated them
      async (c: any) => {
        const orgId = await org(c, c.req.valid('query').orgId)
        const r = await run(orgId, c.req.valid('param').id, c.req.valid('json'), c)
        return c.json(out(r), 200)
      },
    )

  transition(
    'approve',
    'Record the technical or operational approval (created → fully_approved once both are in)',
    z.strictObject({ role: z.enum(['technical', 'operational']), comment: z.string().max(4000).default('') }),
    (o, id, b, c) => approve(ctx, o, id, b, acting(c)),
  )
  transition(
    'schedule',
    'Schedule the implementation (fully_approved → scheduled)',
    z.strictObject({ window: windowSchema.optional() }),
    (o, id, b, c) => schedule(ctx, o, id, { window: toWindow(b.window) }, acting(c)),
  )
  transition(
    'start',
    'Start the implementation (scheduled → in_progress)',
    z.strictObject({ implementer: personSchema }),
    (o, id, b, c) => start(ctx, o, id, b, acting(c)),
  )
  transition(
    'complete',
    'Complete the change (in_progress → completed)',
    z.strictObject({ completionNotes: z.string().max(4000), testResults: z.string().max(4000) }),
    (o, id, b, c) => complete(ctx, o, id, b, acting(c)),
  )
  transition(
    'fail',
    'Record a failed implementation; rollback required (in_progress → failed)',
    z.strictObject({ failureReason: text(4000), rollbackNotes: z.string().max(4000) }),
    (o, id, b, c) => fail(ctx, o, id, b, acting(c)),
  )
  transition(
    'cancel',
    'Cancel the change (from any open state)',
    z.strictObject({ reason: text(4000) }),
    (o, id, b, c) => cancel(ctx, o, id, b, acting(c)),
  )
}
