import { createRoute, z } from '@hono/zod-openapi'
import type { AppContext } from '../../context.ts'
import { type IncomingEvent, ingestEvents } from '../../delivery/ingest.ts'
import type { Fanout } from '../../delivery/types.ts'
import { EVENT_TYPES, isEventType } from '../../events/catalog.ts'
import { newId } from '../../lib/ids.ts'
import { router } from '../env.ts'
import { ApiError, type ErrorDetail, errorResponses } from '../errors.ts'
import { type Principal, resolveOrgId } from '../principal.ts'
import { dateTime, uuidSchema } from '../schemas.ts'
import { jsonBody } from './shared.ts'

export const MAX_BATCH = 1000

const eventBody = z
  .strictObject({
    id: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: 'Idempotency key within the organization; generated when omitted' }),
    // Checked here, not only when the events are resolved, so other problems of the request come with it.
    type: z
      .string()
      .min(1)
      .max(100)
      .refine(isEventType, {
        error: (issue) => `Unknown event type "${String(issue.input)}" (see GET /api/v1/event-types)`,
      })
      .openapi({ example: 'alert.triggered' }),
    orgId: uuidSchema.optional().openapi({ description: 'Required for partner and system keys' }),
    timestamp: dateTime().optional().openapi({ description: 'When it happened; defaults to now' }),
    // Optional on purpose: many events (device.online, user.login) carry nothing beyond their type, and receivers
    // always get an object, as the webhook envelope documents `data` as one.
    data: z.record(z.string(), z.unknown()).default({}).openapi({
      description:
        "The event's details, delivered as the envelope's `data`. Optional: an event sent without it is stored and delivered with `data: {}`.",
    }),
  })
  .openapi('Event')

const resultSchema = z
  .object({
    id: z.string(),
    orgId: z.uuid(),
    duplicate: z.boolean().openapi({ description: 'Seen before: not stored or queued again' }),
    deliveriesQueued: z.number().int(),
  })
  .openapi('EventResult')

type EventBody = z.infer<typeof eventBody>

/** Resolves every event's organization with one lookup per distinct org, checking the caller may reach it. */
async function toIncoming(ctx: AppContext, p: Principal, items: EventBody[], pathOf: (i: number) => string) {
  const problems: ErrorDetail[] = []
  const orgIds = new Map<string, string>()
  const now = ctx.clock.now()
  const out: IncomingEvent[] = []
  for (const [i, e] of items.entries()) {
    if (!isEventType(e.type)) {
      problems.push({
        path: `${pathOf(i)}type`,
        message: `Unknown event type "${e.type}" (see GET /api/v1/event-types)`,
      })
    }
    const requested = e.orgId ?? ''
    let orgId = orgIds.get(requested)
    if (orgId === undefined) {
      orgId = await resolveOrgId(ctx.db.orm, p, e.orgId)
      orgIds.set(requested, orgId)
    }
    out.push({
      orgId,
      id: e.id ?? newId(now.getTime()),
      type: e.type,
      occurredAt: e.timestamp ? new Date(e.timestamp) : now,
      data: e.data,
    })
  }
  if (problems.length > 0) {
    throw new ApiError(
      422,
      'validation_failed',
      `Invalid request body: ${problems.map((d) => `${d.path}: ${d.message}`).join('; ')}`,
      problems,
    )
  }
  return out
}

export function eventRoutes(ctx: AppContext, fanouts: readonly Fanout[]) {
  const app = router()

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['Events'],
      summary: 'Ingest an event',
      description:
        'Stores the event and queues a delivery for every subscriber, in one transaction. Idempotent by `id` within ' +
        'the organization: a repeat answers 200 with `duplicate: true` and queues nothing.',
      request: { body: jsonBody(eventBody) },
      responses: {
        202: { description: 'Stored and queued', content: { 'application/json': { schema: resultSchema } } },
        200: {
          description: 'Duplicate: already stored',
          content: { 'application/json': { schema: resultSchema } },
        },
        ...errorResponses(400, 401, 404, 413, 422),
      },
    }),
    async (c) => {
      const incoming = await toIncoming(ctx, c.var.principal, [c.req.valid('json')], () => '')
      const [result] = await ingestEvents(ctx.db, fanouts, incoming, ctx.clock.now())
      const r = result as (typeof resultSchema)['_output']
      return c.json(r, r.duplicate ? 200 : 202)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/batch',
      tags: ['Events'],
      summary: 'Ingest up to 1,000 events',
      description: 'All or nothing: one invalid event rejects the batch. Each event is idempotent by its id.',
      request: {
        body: jsonBody(
          z.strictObject({ events: z.array(eventBody).min(1).max(MAX_BATCH) }).openapi('EventBatch'),
        ),
      },
      responses: {
        202: {
          description: 'Stored and queued',
          content: {
            'application/json': {
              schema: z.object({ events: z.array(resultSchema), deliveriesQueued: z.number().int() }),
            },
          },
        },
        ...errorResponses(400, 401, 404, 413, 422),
      },
    }),
    async (c) => {
      const incoming = await toIncoming(
        ctx,
        c.var.principal,
        c.req.valid('json').events,
        (i) => `events.${i}.`,
      )
      const results = await ingestEvents(ctx.db, fanouts, incoming, ctx.clock.now())
      return c.json(
        { events: results, deliveriesQueued: results.reduce((n, r) => n + r.deliveriesQueued, 0) },
        202,
      )
    },
  )

  return app
}

export function eventTypeRoutes() {
  const app = router()
  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Events'],
      summary: 'The event type catalog',
      description:
        'Types webhooks and integrations can subscribe to. Subscriptions also accept `alert.*` and `*`.',
      responses: {
        200: {
          description: 'Event types',
          content: {
            'application/json': {
              schema: z.object({
                data: z.array(z.object({ type: z.string(), category: z.string(), description: z.string() })),
              }),
            },
          },
        },
        ...errorResponses(401),
      },
    }),
    (c) =>
      c.json(
        {
          data: Object.entries(EVENT_TYPES).map(([type, description]) => ({
            type,
            category: type.split('.')[0] as string,
            description,
          })),
        },
        200,
      ),
  )
  return app
}
