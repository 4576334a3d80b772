import { createRoute, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { Connector, Credentials, ResourceKindInfo } from '../../connectors/types.ts'
import { VendorError } from '../../connectors/vendor-error.ts'
import type { AppContext } from '../../context.ts'
import { secretValues } from '../../integrations/credentials.ts'
import {
  findIntegration,
  IntegrationError,
  type IntegrationView,
  loadCredentials,
} from '../../integrations/service.ts'
import { connectorEnv } from '../../integrations/verification.ts'
import { scrubSecrets } from '../../lib/redact.ts'
import { RESOURCE_KINDS, type ResourceKind, resourceSchemas } from '../../resources/kinds.ts'
import type { AppEnv } from '../env.ts'
import { synthesqErrorResponses, synthesqErrorSchema, synthesqRouter } from '../envelope.ts'
import { vendorFailureStatus } from '../error-status.ts'
import { resolveOrgId, scopeOf } from '../principal.ts'
import { uuidSchema } from '../schemas.ts'

/**
 * The resources API (issue 15): what an integration reads at its vendor, one normalized shape per kind
 * (resources/kinds.ts) whatever the vendor. Items are validated against those shapes on the way out; the
 * vendor's cursor is wrapped in an opaque one bound to the kind and filters it was issued for; vendor errors
 * are passed on verbatim, credentials scrubbed.
 */
const TAG = 'Resources'
const MAX_LIMIT = 100
const DEFAULT_LIMIT = 50
/** Query parameters of the listing itself; every other one is a filter of the kind. */
const RESERVED = new Set(['cursor', 'limit', 'orgId'])

const kindEnum = z.enum(RESOURCE_KINDS as [ResourceKind, ...ResourceKind[]])

const kindInfoSchema = z
  .object({
    kind: kindEnum,
    description: z.string(),
    filters: z
      .array(z.object({ name: z.string(), description: z.string() }))
      .openapi({ description: 'Query parameters this kind accepts' }),
  })
  .openapi('ResourceKind')

const itemSchema = z
  .union(Object.values(resourceSchemas) as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]])
  .openapi('ResourceItem', {
    description:
      "One normalized item of the kind (see the kind's shape); `raw` is the vendor's object as sent",
  })

const listSchema = z
  .object({
    success: z.literal(true),
    data: z.array(itemSchema),
    meta: z.object({
      kind: kindEnum,
      integration_id: z.uuid(),
      provider: z.string(),
      count: z.number().int(),
      next_cursor: z.string().nullable().openapi({
        description: 'Pass as `cursor` (with the same filters) for the next page; null on the last',
      }),
    }),
  })
  .openapi('ResourcePage')

const vendorErrorSchema = z
  .object({
    success: z.literal(false),
    message: z.string().openapi({ description: "The vendor's own words, credentials removed" }),
    code: z.enum(['vendor_error', 'vendor_rate_limited', 'vendor_unreachable', 'invalid_filter']),
    vendor_status: z.number().int().nullable(),
    retry_after_ms: z.number().int().nullable(),
  })
  .openapi('VendorErrorResponse')

const listQuery = z
  .object({
    cursor: z
      .string()
      .max(8192)
      .optional()
      .openapi({ description: 'From the previous page’s `next_cursor`' }),
    limit: z.coerce
      .number()
      .int()
      .min(1, 'must be at least 1')
      .max(MAX_LIMIT, `may not be greater than ${MAX_LIMIT}`)
      .default(DEFAULT_LIMIT)
      .openapi({
        description: `Page size (default ${DEFAULT_LIMIT}, max ${MAX_LIMIT}); vendors may return fewer`,
      }),
  })
  .catchall(z.string())
  .openapi({ description: "Any other parameter is a filter of the kind (see the kind's `filters`)" })

const kindParams = z.object({
  id: uuidSchema.openapi({ param: { name: 'id', in: 'path' } }),
  kind: kindEnum.openapi({ param: { name: 'kind', in: 'path' } }),
})

const vendorResponses = {
  400: {
    description: 'An unknown filter, a bad filter value, or a cursor not issued for this listing',
    content: { 'application/json': { schema: vendorErrorSchema } },
  },
  429: {
    description: "The vendor's rate limit or its per-account budget; `Retry-After` says when to try again",
    content: { 'application/json': { schema: vendorErrorSchema } },
  },
  502: {
    description: 'The vendor refused (e.g. the stored credentials, 401/403) or failed; its message verbatim',
    content: { 'application/json': { schema: vendorErrorSchema } },
  },
} as const

function kindInfo(k: ResourceKindInfo) {
  return {
    kind: k.kind,
    description: k.description,
    filters: Object.entries(k.filters ?? {}).map(([name, description]) => ({ name, description })),
  }
}

function offered(connector: Connector): readonly ResourceKindInfo[] {
  return connector.resources?.kinds ?? []
}

/** The route's cursor: the connector's own, bound to the kind and filters it pages through. */
function wrapCursor(kind: string, filter: Record<string, string>, next: string): string {
  return Buffer.from(JSON.stringify({ k: kind, f: filter, c: next }), 'utf8').toString('base64url')
}

function unwrapCursor(kind: string, filter: Record<string, string>, cursor: string): string {
  let value: { k?: unknown; f?: unknown; c?: unknown } | undefined
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    value = undefined
  }
  if (!value || typeof value.c !== 'string' || value.k !== kind)
    throw new VendorError('The cursor was not issued for this listing', 400)
  if (JSON.stringify(value.f) !== JSON.stringify(filter))
    throw new VendorError('The cursor was issued with other filters; give the same filters with it', 400)
  return value.c
}

function vendorFailure(c: Context<AppEnv>, err: VendorError, secrets: string[]): Response {
  const message = scrubSecrets(err.message, secrets).slice(0, 2000)
  const vs = err.status ?? null
  const { status, code } = vendorFailureStatus(vs, message)
  const retry = err.retryAfterMs ?? null
  if (retry !== null) c.header('Retry-After', String(Math.max(1, Math.ceil(retry / 1000))))
  return c.json({ success: false as const, message, code, vendor_status: vs, retry_after_ms: retry }, status)
}

async function listPage(
  ctx: AppContext,
  c: Context<AppEnv>,
  found: { integration: IntegrationView; connector: Connector; credentials: Credentials },
  kind: ResourceKind,
  q: { cursor?: string | undefined; limit: number },
): Promise<Response> {
  const { integration, connector, credentials } = found
  const info = offered(connector).find((k) => k.kind === kind)
  if (!info) {
    const kinds = offered(connector).map((k) => k.kind)
    throw new IntegrationError(
      'not_found',
      `${connector.descriptor.displayName} offers no ${kind}${kinds.length ? `; it offers ${kinds.join(', ')}` : ''}`,
    )
  }
  if (integration.status === 'inactive')
    throw IntegrationError.conflict('The integration is disabled; activate it to read from the vendor')
  const all = c.req.query()
  const filter: Record<string, string> = {}
  for (const [name, value] of Object.entries(all)) if (!RESERVED.has(name)) filter[name] = value
  const secrets = secretValues(connector.descriptor.credentialSchema, credentials).filter(
    (s): s is string => typeof s === 'string',
  )
  const unknown = Object.keys(filter).filter((f) => !(info.filters && f in info.filters))
  if (unknown.length) {
    const known = Object.keys(info.filters ?? {})
    return vendorFailure(
      c,
      new VendorError(
        `Unknown filter ${unknown.join(', ')} for ${kind}; ${known.length ? `filters: ${known.join(', ')}` : 'it takes no filters'}`,
        400,
      ),
      secrets,
    )
  }
  try {
    const cursor = q.cursor ? unwrapCursor(kind, filter, q.cursor) : undefined
    const page = await connector.resources?.list(
      credentials,
      kind,
      { cursor, filter, limit: q.limit },
      connectorEnv(ctx, connector.descriptor.id),
    )
    if (!page) throw new VendorError(`${connector.descriptor.displayName} returned no page`, 502)
    const schema = resourceSchemas[kind]
    const items = page.items.map((item, i) => {
      const parsed = schema.safeParse(item)
      if (!parsed.success) {
        ctx.log.error(
          { provider: connector.descriptor.id, kind, index: i, issues: parsed.error.issues.slice(0, 3) },
          'a connector returned an item outside its kind’s shape',
        )
        throw new VendorError(
          `${connector.descriptor.displayName} returned a ${kind} item Patchbay could not read`,
          502,
        )
      }
      return parsed.data
    })
    return c.json(
      {
        success: true as const,
        data: items,
        meta: {
          kind,
          integration_id: integration.id,
          provider: integration.provider,
          count: items.length,
          next_cursor: page.next ? wrapCursor(kind, filter, page.next) : null,
        },
      },
      200,
    )
  } catch (err) {
    if (err instanceof VendorError) return vendorFailure(c, err, secrets)
    throw err
  }
}

/** `/integrations/{id}/resources…` */
export function integrationResourceRoutes(ctx: AppContext) {
  const app = synthesqRouter(ctx)

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
        ...synthesqErrorResponses(401, 404, 422),
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
        ...synthesqErrorResponses(401, 409, 422),
        404: {
          description: 'No such integration, or it offers no such kind, or the vendor has no such record',
          content: { 'application/json': { schema: z.union([synthesqErrorSchema, vendorErrorSchema]) } },
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

  return app
}

/** `/providers/{provider}/resources/{kind}`: the organization's default instance of the provider answers. */
export function providerResourceRoutes(ctx: AppContext) {
  const app = synthesqRouter(ctx)
  app.openapi(
    createRoute({
      method: 'get',
      path: '/{provider}/resources/{kind}',
      tags: [TAG],
      summary: "Read resources from the provider's default instance",
      description:
        'Like `GET /integrations/{id}/resources/{kind}`, through the organization’s default instance of the ' +
        'provider (`is_default`; the first instance is the default until another is made so with ' +
        '`POST /integrations/{id}/default`). Partner and system keys name the organization with `orgId`.',
      request: {
        params: z.object({
          provider: z
            .string()
            .min(1)
            .openapi({ param: { name: 'provider', in: 'path' }, example: 'datto-rmm' }),
          kind: kindEnum.openapi({ param: { name: 'kind', in: 'path' } }),
        }),
        query: listQuery.extend({
          orgId: uuidSchema.optional().openapi({ description: 'The organization (partner and system keys)' }),
        }),
      },
      responses: {
        200: { description: 'A page', content: { 'application/json': { schema: listSchema } } },
        ...vendorResponses,
        ...synthesqErrorResponses(401, 409, 422),
        400: {
          description: `${vendorResponses[400].description}, or a partner or system key named no organization`,
          content: { 'application/json': { schema: z.union([vendorErrorSchema, synthesqErrorSchema]) } },
        },
        404: {
          description: 'No instance of the provider in the organization, or no such kind, or no such record',
          content: { 'application/json': { schema: z.union([synthesqErrorSchema, vendorErrorSchema]) } },
        },
      },
    }),
    async (c) => {
      const { provider, kind } = c.req.valid('param')
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, c.req.valid('query').orgId)
      const connector = ctx.connectors.get(provider)
      if (!connector) throw IntegrationError.notFound(`Provider "${provider}"`)
      const chosen = await findIntegration(ctx, orgId, provider)
      if (!chosen)
        throw IntegrationError.notFound(
          `${connector.descriptor.displayName} integration in this organization`,
        )
      const found = await loadCredentials(ctx, { kind: 'org', orgId }, chosen.id)
      return (await listPage(ctx, c, found, kind, c.req.valid('query'))) as never
    },
  )
  return app
}
