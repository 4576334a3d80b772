/**
 * Breeze's legacy PSA settings (`/integrations/psa`, superseded by `/psa/connections`): one PSA connection per
 * organization, shown and changed as a whole. Backed by the organization's default PSA integration, so the
 * legacy door and the `/psa/connections` door see the same connection, credentials, settings (the same
 * validated automation settings) and state. This door only configures; the automation is src/psa's.
 *
 * Which integration is "the organization's default PSA integration" when it has several PSA providers: the one a
 * request names by `provider` (that provider's default instance); else the target of the organization's default
 * `create_ticket` routing rule, when it is a PSA integration; else the most recently created default instance of
 * any PSA provider.
 */

import type { AppContext } from '../context.ts'
import { IntegrationError } from '../integrations/errors.ts'
import {
  type AuditContext,
  type CheckOutcome,
  findIntegration,
  getIntegration,
  type IntegrationView,
  requireConnector,
  saveIntegration,
  updateIntegration,
} from '../integrations/service.ts'
import { checkCompany, psaProviders, testConnection } from '../psa/service.ts'
import type { PsaSettings } from '../psa/settings.ts'
import { rulesForCapability } from '../store/integrations.ts'
import type { TenantScope } from '../store/scope.ts'

function requirePsa(ctx: AppContext, provider: string): void {
  const connector = requireConnector(ctx, provider)
  if (connector.descriptor.category !== 'psa') {
    throw IntegrationError.field(
      'provider',
      `The provider field must be a PSA provider: ${psaProviders(ctx).join(', ')}.`,
    )
  }
}

/** The organization's default PSA integration (see the module comment), or undefined. */
export async function legacyPsaIntegration(
  ctx: AppContext,
  orgId: string,
  provider?: string,
): Promise<IntegrationView | undefined> {
  if (provider) {
    requirePsa(ctx, provider)
    return findIntegration(ctx, orgId, provider)
  }
  const scope: TenantScope = { kind: 'org', orgId }
  const psa = new Set(psaProviders(ctx))
  const [rule] = (await rulesForCapability(ctx.db.orm, orgId, 'create_ticket')).filter((r) => r.isDefault)
  if (rule) {
    const target = await getIntegration(ctx, scope, rule.integrationId)
    if (target && psa.has(target.provider)) return target
  }
  const defaults: IntegrationView[] = []
  for (const p of psa) {
    const found = await findIntegration(ctx, orgId, p)
    if (found) defaults.push(found)
  }
  defaults.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
  return defaults[0]
}

export interface LegacyPsaInput {
  provider: string
  credentials: Record<string, unknown>
  /** The PSA automation settings (src/psa/settings.ts), validated by the route. */
  settings?: PsaSettings | undefined
}

/**
 * Saves the legacy PSA settings: creates the provider's integration, or updates its default instance (credential
 * fields given replace the stored ones, `settings` replaces the settings object when given).
 */
export async function saveLegacyPsa(
  ctx: AppContext,
  orgId: string,
  input: LegacyPsaInput,
  audit: AuditContext,
): Promise<{ integration: IntegrationView; created: boolean }> {
  requirePsa(ctx, input.provider)
  checkCompany(ctx, input.provider, input.settings)
  return saveIntegration(
    ctx,
    orgId,
    {
      provider: input.provider,
      credentials: input.credentials,
      ...(input.settings ? { settings: input.settings } : {}),
    },
    audit,
  )
}

/** Updates the organization's default PSA integration in place; undefined when it has none. */
export async function updateLegacyPsa(
  ctx: AppContext,
  orgId: string,
  input: {
    provider?: string | undefined
    credentials?: Record<string, unknown> | undefined
    settings?: PsaSettings | undefined
  },
  audit: AuditContext,
): Promise<IntegrationView | undefined> {
  const current = await legacyPsaIntegration(ctx, orgId, input.provider)
  if (!current) return undefined
  checkCompany(ctx, current.provider, input.settings)
  return updateIntegration(
    ctx,
    { kind: 'org', orgId },
    current.id,
    {
      ...(input.credentials ? { credentials: input.credentials } : {}),
      ...(input.settings ? { settings: input.settings } : {}),
    },
    audit,
  )
}

/**
 * Verifies the saved credentials with the vendor's API (the PSA connector's own check) and records it, exactly as
 * `POST /psa/connections/{id}/test` does (audited as `psa.connection.test`).
 */
export async function testLegacyPsa(
  ctx: AppContext,
  orgId: string,
  provider: string | undefined,
  audit: AuditContext,
): Promise<{ integration: IntegrationView; outcome: CheckOutcome } | undefined> {
  const current = await legacyPsaIntegration(ctx, orgId, provider)
  if (!current) return undefined
  return testConnection(ctx, { kind: 'org', orgId }, current.id, audit)
}
