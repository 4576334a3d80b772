/**
 * Chat channels (Slack, Teams, Discord) as the Breeze `/integrations/<provider>` door sees them: one integration
 * per provider and organization, whose credential is the webhook URL and whose settings say where and when to
 * post (`channel`, `username`, `notifyOn`). Saving goes through the integration model (sealed credentials,
 * lifecycle, audit); a test message is a real post whose outcome counts as the integration's verification.
 */

import type { Connector } from '../connectors/types.ts'
import { VendorError } from '../connectors/vendor-error.ts'
import type { AppContext } from '../context.ts'
import { isValidSubscription } from '../events/catalog.ts'
import { secretValues } from '../integrations/credentials.ts'
import { DEFAULT_NOTIFY_ON } from '../integrations/defaults.ts'
import { IntegrationError } from '../integrations/errors.ts'
import { applyVerification } from '../integrations/lifecycle.ts'
import {
  type AuditContext,
  findIntegration,
  getIntegration,
  type IntegrationView,
  loadCredentials,
  saveIntegration,
} from '../integrations/service.ts'
import { type CheckOutcome, connectorEnv } from '../integrations/verification.ts'
import { scrubSecrets } from '../lib/redact.ts'
import { getIntegrationRow, updateIntegrationRow } from '../store/integrations.ts'
import type { TenantScope } from '../store/scope.ts'
import { getOrg } from '../store/tenancy.ts'
import { maskUrl } from '../vault/mask.ts'
import { testNotification } from './from-event.ts'
import { isSeveritySelector } from './notify-on.ts'

/**
 * The providers of the `/integrations/<provider>` chat door: the door's public paths, so they are a fixed list
 * rather than whatever the registry holds. Each one's connector (through `ctx.connectors`) has a `chat` module
 * that checks its webhook URLs.
 */
export const CHAT_PROVIDERS = ['slack', 'teams', 'discord'] as const
export type ChatProvider = (typeof CHAT_PROVIDERS)[number]

export interface ChannelSettings {
  channel?: string
  username?: string
  notifyOn: string[]
}

/** A `notifyOn` entry: an event type, `alert.*`-style wildcard, `*`, or `alert.critical|warning|info`. */
export function notifyOnProblem(entry: string): string | undefined {
  if (entry !== entry.trim() || !entry) return 'must be an event type without surrounding spaces'
  if (isSeveritySelector(entry) || isValidSubscription(entry)) return undefined
  return `Unknown event type "${entry}" (see GET /api/v1/event-types; alert.critical, alert.warning and alert.info select alerts by severity)`
}

export function channelSettings(settings: Record<string, unknown>): ChannelSettings {
  const out: ChannelSettings = {
    notifyOn: Array.isArray(settings.notifyOn)
      ? settings.notifyOn.filter((s): s is string => typeof s === 'string')
      : [],
  }
  if (typeof settings.channel === 'string') out.channel = settings.channel
  if (typeof settings.username === 'string') out.username = settings.username
  return out
}

export interface ChannelInput {
  webhookUrl?: string | undefined
  /** Null removes a stored override. */
  baseUrl?: string | null | undefined
  channel?: string | null | undefined
  username?: string | null | undefined
  notifyOn?: string[] | undefined
}

/** A channel as the door shows it: the webhook URL masked, the settings, and the integration's state. */
export interface ChannelView {
  integration: IntegrationView
  /** `https://hooks.slack.com/****abcd`: the host and the last four characters, never the token. */
  webhookUrl: string | null
  baseUrl: string | null
  settings: ChannelSettings
  /**
   * A legacy Office 365 connector URL (Teams) not verified yet: nothing but a real post can verify one, so until a
   * test message succeeds, background verification leaves it in `error` saying so.
   */
  needsTestMessage: boolean
}

async function view(ctx: AppContext, integration: IntegrationView): Promise<ChannelView> {
  const scope: TenantScope = { kind: 'org', orgId: integration.orgId }
  const { credentials } = await loadCredentials(ctx, scope, integration.id)
  const url = typeof credentials.webhookUrl === 'string' ? credentials.webhookUrl : null
  const base = typeof credentials.baseUrl === 'string' ? credentials.baseUrl : null
  return {
    integration,
    webhookUrl: url ? maskUrl(url) : null,
    baseUrl: base,
    settings: channelSettings(integration.settings),
    needsTestMessage:
      url !== null && onlyAPostVerifies(ctx, integration.provider, url) && !integration.verifiedAt,
  }
}

/** The organization's channel for a provider, or undefined. */
export async function getChannel(
  ctx: AppContext,
  orgId: string,
  provider: ChatProvider,
): Promise<ChannelView | undefined> {
  const integration = await findIntegration(ctx, orgId, provider)
  return integration ? view(ctx, integration) : undefined
}

/** Every chat provider the organization has a channel for. */
export async function listChannels(
  ctx: AppContext,
  orgId: string,
): Promise<Partial<Record<ChatProvider, ChannelView>>> {
  const out: Partial<Record<ChatProvider, ChannelView>> = {}
  for (const provider of CHAT_PROVIDERS) {
    const channel = await getChannel(ctx, orgId, provider)
    if (channel) out[provider] = channel
  }
  return out
}

/**
 * Creates or updates the organization's channel for a provider. Fields given replace the stored ones, absent
 * fields are kept, `null` clears `channel`, `username` or `baseUrl`. `webhookUrl` is needed the first time; a
 * value equal to the masked form the API shows keeps the stored URL (a read-modify-write round trip). A changed
 * URL is re-sealed and re-verified by the integration model.
 */
export async function saveChannel(
  ctx: AppContext,
  orgId: string,
  provider: ChatProvider,
  input: ChannelInput,
  audit: AuditContext,
): Promise<{ channel: ChannelView; created: boolean }> {
  const existing = await findIntegration(ctx, orgId, provider)
  const credentials: Record<string, unknown> = {}
  let webhookUrl = input.webhookUrl?.trim()
  if (webhookUrl !== undefined && existing && webhookUrl.includes('****')) {
    const stored = (await view(ctx, existing)).webhookUrl
    if (webhookUrl !== stored) {
      throw IntegrationError.field(
        'webhookUrl',
        'The webhookUrl field holds a masked URL that is not the stored one; send the full webhook URL.',
      )
    }
    webhookUrl = undefined
  }
  if (webhookUrl !== undefined) {
    const problem = webhookShapeProblem(ctx, provider, webhookUrl)
    if (problem) throw IntegrationError.field('webhookUrl', problem)
    credentials.webhookUrl = webhookUrl
  } else if (!existing) {
    throw IntegrationError.field('webhookUrl', 'The webhookUrl field is required.')
  }
  if (input.baseUrl !== undefined) credentials.baseUrl = input.baseUrl

  const settings: Record<string, unknown> = existing
    ? { ...existing.settings }
    : { notifyOn: [...DEFAULT_NOTIFY_ON] }
  for (const key of ['channel', 'username'] as const) {
    const value = input[key]
    if (value === null || (typeof value === 'string' && !value.trim())) delete settings[key]
    else if (value !== undefined) settings[key] = value.trim()
  }
  if (input.notifyOn !== undefined) settings.notifyOn = [...new Set(input.notifyOn)]

  const { integration, created } = await saveIntegration(
    ctx,
    orgId,
    { provider, credentials, settings },
    audit,
  )
  return { channel: await view(ctx, integration), created }
}

function webhookShapeProblem(ctx: AppContext, provider: ChatProvider, raw: string): string | undefined {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'The webhookUrl field must be a valid URL.'
  }
  if (url.protocol !== 'https:') return 'The webhookUrl field must be an https URL.'
  // A registry without this provider leaves the refusal to saveIntegration, which names the unknown provider.
  return ctx.connectors.get(provider)?.chat?.webhookUrlProblem(url)
}

function onlyAPostVerifies(ctx: AppContext, provider: string, raw: string): boolean {
  const check = ctx.connectors.get(provider)?.chat?.verifiedOnlyByPost
  if (!check) return false
  try {
    return check(new URL(raw))
  } catch {
    return false
  }
}

/**
 * Posts a real test message to the channel and records the outcome as the integration's verification: a
 * message the platform accepted makes the integration `active` (a legacy Office 365 Teams URL has no other way to
 * be verified), a refusal puts it in `error` with the platform's words. Supersedes any verification still
 * queued, so a background check cannot overturn a message that arrived. Audited as `integration.test_message`.
 */
export async function sendTestMessage(
  ctx: AppContext,
  orgId: string,
  integrationId: string,
  audit: AuditContext,
): Promise<{ integration: IntegrationView; outcome: CheckOutcome }> {
  const scope: TenantScope = { kind: 'org', orgId }
  const row = await ctx.db.orm.transaction(async (tx) => {
    const current = await getIntegrationRow(tx, scope, integrationId, { forUpdate: true })
    if (!current) throw IntegrationError.notFound()
    return updateIntegrationRow(tx, current.id, { verifySeq: current.verifySeq + 1 })
  })
  const { integration, connector, credentials } = await loadCredentials(ctx, scope, integrationId)
  const org = await getOrg(ctx.db.orm, scope, orgId)
  const settings = channelSettings(integration.settings)
  const message = testNotification({
    orgId,
    at: ctx.clock.now(),
    consoleUrl: ctx.config.PATCHBAY_CONSOLE_URL,
    orgName: org?.name,
    channel: settings.channel,
    username: settings.username,
  })
  const outcome = await post(ctx, connector, credentials, message)
  await applyVerification(ctx, scope, integrationId, row.verifySeq, outcome, {
    actor: audit.actor,
    requestId: audit.requestId,
    mode: 'manual',
    action: 'integration.test_message',
  })
  const latest = await getIntegration(ctx, scope, integrationId)
  return { integration: latest ?? integration, outcome }
}

async function post(
  ctx: AppContext,
  connector: Connector,
  credentials: Record<string, unknown>,
  message: ReturnType<typeof testNotification>,
): Promise<CheckOutcome> {
  const secrets = secretValues(connector.descriptor.credentialSchema, credentials)
  const send = connector.notifications?.send
  if (!send) {
    return {
      ok: false,
      error: `${connector.descriptor.displayName} cannot post messages`,
      retryable: false,
      latencyMs: 0,
    }
  }
  const started = performance.now()
  try {
    const res = await send(credentials, message, connectorEnv(ctx, connector.descriptor.id))
    return {
      ok: true,
      retryable: false,
      httpStatus: res.status,
      latencyMs: res.timeMs,
    }
  } catch (err) {
    if (!(err instanceof VendorError)) throw err
    return {
      ok: false,
      error: scrubSecrets(err.message, secrets).slice(0, 2000),
      retryable: err.retryable,
      latencyMs: Math.round(performance.now() - started),
      ...(err.status !== undefined ? { httpStatus: err.status } : {}),
      ...(err.failure !== undefined ? { failure: err.failure } : {}),
      ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
    }
  }
}
