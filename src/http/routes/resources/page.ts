/**
 * One page of a kind, read at the vendor now: the filters checked against the kind's, the route's own cursor
 * unwrapped and wrapped again, the items validated against the kind's normalized shape, and a vendor's error passed
 * on verbatim with the credentials scrubbed. Both ways to a kind (by integration, by provider) answer with it.
 */
import type { Context } from 'hono'
import type { Connector, Credentials, ResourceKindInfo } from '../../../connectors/types.ts'
import { VendorError } from '../../../connectors/vendor-error.ts'
import type { AppContext } from '../../../context.ts'
import { secretValues } from '../../../integrations/credentials.ts'
import { IntegrationError, type IntegrationView } from '../../../integrations/service.ts'
import { connectorEnv } from '../../../integrations/verification.ts'
import { scrubSecrets } from '../../../lib/redact.ts'
import { type ResourceKind, resourceSchemas } from '../../../resources/kinds.ts'
import type { AppEnv } from '../../env.ts'
import { vendorFailureStatus } from '../../error-status.ts'
import { RESERVED } from './schemas.ts'

/** The kinds the connector reads; none without a resources module. */
export function offered(connector: Connector): readonly ResourceKindInfo[] {
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

export async function listPage(
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
