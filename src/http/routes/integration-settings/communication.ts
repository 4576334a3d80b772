import { createRoute, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import {
  CHAT_PROVIDERS,
  type ChannelView,
  getChannel,
  listChannels,
  notifyOnProblem,
  saveChannel,
  sendTestMessage,
} from '../../../notifications/channels.ts'
import { router } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { resolveOrgId } from '../../principal.ts'
import { iso, timestamp } from '../../schemas.ts'
import { auditOf, json } from '../shared.ts'
import {
  flatCredentialField,
  integrationStateSchema,
  orgIdField,
  TAG,
  testResult,
  testResultSchema,
  withApiErrors,
} from './shared.ts'

const notifyOnSchema = z
  .array(z.string().max(100))
  .max(100)
  .superRefine((entries, ctx) => {
    entries.forEach((entry, i) => {
      const problem = notifyOnProblem(entry)
      if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem })
    })
  })
  .openapi({
    description:
      'Event types to post (`device.offline`), wildcards (`alert.*`, `*`), or `alert.critical`, `alert.warning`, ' +
      '`alert.info`: alerts (triggered or escalated) of that severity. Default on creation: alert.critical, alert.warning.',
    example: ['alert.critical', 'alert.warning', 'device.offline'],
  })

const channelSchema = z
  .object({
    id: z.uuid(),
    webhookUrl: z.string().nullable().openapi({
      description: 'Masked: scheme, host and the last four characters',
      example: 'https://hooks.slack.com/****x9Zq',
    }),
    baseUrl: z
      .string()
      .nullable()
      .openapi({ description: 'Override of the webhook URL’s host (proxies, stand-ins)' }),
    channel: z.string().nullable(),
    username: z.string().nullable(),
    notifyOn: z.array(z.string()),
    status: integrationStateSchema.shape.status,
    lastError: z.string().nullable(),
    verifiedAt: timestamp.nullable(),
    lastTestedAt: timestamp.nullable(),
    needsTestMessage: z.boolean().openapi({
      description:
        'A legacy Office 365 connector URL (Teams) not verified yet: only a test message can verify it; send `"test": true`',
    }),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi('CommunicationChannel')

function toChannel(v: ChannelView) {
  const i = v.integration
  return {
    id: i.id,
    webhookUrl: v.webhookUrl,
    baseUrl: v.baseUrl,
    channel: v.settings.channel ?? null,
    username: v.settings.username ?? null,
    notifyOn: v.settings.notifyOn,
    status: i.status,
    lastError: i.lastError?.message ?? null,
    verifiedAt: iso(i.verifiedAt),
    lastTestedAt: iso(i.lastTestedAt),
    needsTestMessage: v.needsTestMessage,
    createdAt: i.createdAt.toISOString(),
    updatedAt: i.updatedAt.toISOString(),
  }
}

const saveBody = z
  .strictObject({
    orgId: orgIdField,
    webhookUrl: z
      .string()
      .trim()
      .min(1)
      .max(2048)
      .optional()
      .openapi({
        description:
          'The platform’s incoming webhook URL. Required the first time; stored encrypted, shown masked. ' +
          'Sending back the masked form keeps the stored URL.',
      }),
    baseUrl: z
      .string()
      .trim()
      .max(2048)
      .nullable()
      .optional()
      .openapi({
        description:
          'Sends requests to this scheme and host instead of the platform’s (a proxy); null removes it. Changing ' +
          'it needs the full `webhookUrl` given again (else 422)',
      }),
    channel: z
      .string()
      .max(80)
      .nullable()
      .optional()
      .openapi({ description: 'Channel override, for platforms that honour it (Slack legacy webhooks)' }),
    username: z
      .string()
      .max(80)
      .nullable()
      .optional()
      .openapi({ description: 'Display name override (Slack, Discord)' }),
    notifyOn: notifyOnSchema.optional(),
    test: z
      .boolean()
      .optional()
      .openapi({
        description:
          'After saving, post a real test message and report whether the platform accepted it. A message that ' +
          'arrives verifies the integration; a refusal puts it in `error` with the platform’s words.',
      }),
  })
  .openapi('CommunicationSettings')

const saveResponse = z.object({
  success: z
    .boolean()
    .openapi({ description: 'Saved, and when `test` was asked, the platform accepted the test message' }),
  message: z.string(),
  data: channelSchema,
  test: testResultSchema.optional(),
})

export function communicationRoutes(ctx: AppContext) {
  const app = router()

  app.openapi(
    createRoute({
      method: 'get',
      path: '/communication',
      tags: [TAG],
      summary: 'Communication settings of an organization',
      description:
        'Every chat provider the organization has configured (slack, teams, discord) in one object, webhook URLs ' +
        'masked. 404 when none is configured.',
      request: { query: z.object({ orgId: orgIdField }) },
      responses: {
        200: json(
          z.object({ data: z.partialRecord(z.enum(['slack', 'teams', 'discord']), channelSchema) }),
          'Settings by provider',
        ),
        ...errorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, c.req.valid('query').orgId)
      const channels = await listChannels(ctx, orgId)
      const data = Object.fromEntries(Object.entries(channels).map(([p, v]) => [p, toChannel(v)]))
      if (Object.keys(data).length === 0) throw ApiError.notFound('Communication settings')
      return c.json({ data }, 200)
    },
  )

  for (const provider of CHAT_PROVIDERS) {
    // The connector's own descriptor names the platform, so the docs and the providers list agree.
    const name = ctx.connectors.get(provider)?.descriptor.displayName ?? provider
    app.openapi(
      createRoute({
        method: 'post',
        path: `/${provider}`,
        tags: [TAG],
        summary: `Configure or test ${name}`,
        description:
          `Saves or updates the organization’s ${name} settings (fields given replace the stored ` +
          'ones, absent fields are kept, null clears). Events matching `notifyOn` are posted to the channel as ' +
          'deliveries (`targetType` `notification`). With `"test": true` a real test message is posted after ' +
          'saving; `success` says whether the platform accepted it and `message` is its answer when it did not.',
        request: { body: { required: true, content: { 'application/json': { schema: saveBody } } } },
        responses: { 200: json(saveResponse, 'Saved (and tested)'), ...errorResponses(400, 401, 404, 422) },
      }),
      async (c) => {
        const { orgId: requested, test, ...input } = c.req.valid('json')
        const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, requested)
        const audit = auditOf(c)
        const { channel } = await withApiErrors(
          () => saveChannel(ctx, orgId, provider, input, audit),
          flatCredentialField,
        )
        if (!test) {
          const hint = channel.needsTestMessage
            ? ' Microsoft Teams offers no way to check an Office 365 connector webhook without posting: send "test": true to verify it.'
            : ''
          return c.json(
            { success: true, message: `${provider} settings saved.${hint}`, data: toChannel(channel) },
            200,
          )
        }
        const { outcome } = await withApiErrors(() =>
          sendTestMessage(ctx, orgId, channel.integration.id, audit),
        )
        const latest = (await getChannel(ctx, orgId, provider)) ?? channel
        return c.json(
          {
            success: outcome.ok,
            message: outcome.ok
              ? `${provider} test notification sent.`
              : (outcome.error ?? `${provider} test notification failed.`),
            data: toChannel(latest),
            test: testResult(outcome),
          },
          200,
        )
      },
    )
  }

  return app
}
