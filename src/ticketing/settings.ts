/**
 * The Breeze ticketing integration: a ticketing system not covered by the PSA connectors, as a
 * `generic-ticketing` integration. `apiUrl`, `apiKey` (sealed) and `projectKey` are its credentials; `provider`
 * (a label, `custom` by default) and `autoCreate` (open a ticket for every new alert) are its settings.
 */

import type { AppContext } from '../context.ts'
import {
  type AuditContext,
  assertStoredMaskedKey,
  type CheckOutcome,
  findIntegration,
  type IntegrationView,
  isMaskedKey,
  loadCredentials,
  saveIntegration,
  verifyOrgIntegration,
} from '../integrations/service.ts'
import { maskSecret } from '../vault/mask.ts'

/** The provider the `/ticketing` door manages; its connector (through `ctx.connectors`) creates the tickets. */
export const TICKETING_PROVIDER = 'generic-ticketing'

export interface TicketingConfig {
  provider: string
  apiUrl: string | null
  /** Masked: `****abcd`. */
  apiKey: string | null
  projectKey: string | null
  autoCreate: boolean
}

export interface TicketingInput {
  provider?: string | undefined
  apiUrl?: string | undefined
  apiKey?: string | undefined
  projectKey?: string | null | undefined
  autoCreate?: boolean | undefined
}

export interface TicketingView {
  integration: IntegrationView
  config: TicketingConfig
}

export function autoCreateEnabled(settings: Record<string, unknown>): boolean {
  return settings.autoCreate === true
}

async function view(ctx: AppContext, integration: IntegrationView): Promise<TicketingView> {
  const { credentials } = await loadCredentials(
    ctx,
    { kind: 'org', orgId: integration.orgId },
    integration.id,
  )
  const s = integration.settings
  return {
    integration,
    config: {
      provider: typeof s.provider === 'string' ? s.provider : 'custom',
      apiUrl: typeof credentials.apiUrl === 'string' ? credentials.apiUrl : null,
      apiKey: typeof credentials.apiKey === 'string' ? maskSecret(credentials.apiKey) : null,
      projectKey: typeof credentials.projectKey === 'string' ? credentials.projectKey : null,
      autoCreate: autoCreateEnabled(s),
    },
  }
}

export async function getTicketing(ctx: AppContext, orgId: string): Promise<TicketingView | undefined> {
  const integration = await findIntegration(ctx, orgId, TICKETING_PROVIDER)
  return integration ? view(ctx, integration) : undefined
}

/**
 * Creates or updates the organization's ticketing integration. Fields given replace the stored ones, absent ones
 * are kept; `apiUrl` and `apiKey` are needed the first time. An `apiKey` equal to the masked form the API shows
 * keeps the stored key. A changed URL or key is re-verified by the integration model.
 */
export async function saveTicketing(
  ctx: AppContext,
  orgId: string,
  input: TicketingInput,
  audit: AuditContext,
): Promise<{ ticketing: TicketingView; created: boolean }> {
  const existing = await getTicketing(ctx, orgId)
  const credentials: Record<string, unknown> = {}
  if (input.apiUrl !== undefined) credentials.apiUrl = input.apiUrl
  if (input.apiKey !== undefined) {
    if (isMaskedKey(input.apiKey)) assertStoredMaskedKey(input.apiKey, existing?.config.apiKey)
    else credentials.apiKey = input.apiKey
  }
  if (input.projectKey !== undefined) credentials.projectKey = input.projectKey
  const settings: Record<string, unknown> = existing
    ? { ...existing.integration.settings }
    : { provider: 'custom', autoCreate: false }
  if (input.provider !== undefined) settings.provider = input.provider
  if (input.autoCreate !== undefined) settings.autoCreate = input.autoCreate
  const { integration, created } = await saveIntegration(
    ctx,
    orgId,
    { provider: TICKETING_PROVIDER, credentials, settings },
    audit,
  )
  return { ticketing: await view(ctx, integration), created }
}

/** A real, authenticated `GET <apiUrl>` with the saved key; recorded as the integration's verification. */
export function testTicketing(
  ctx: AppContext,
  orgId: string,
  audit: AuditContext,
): Promise<{ integration: IntegrationView; outcome: CheckOutcome } | undefined> {
  return verifyOrgIntegration(ctx, orgId, TICKETING_PROVIDER, audit)
}
