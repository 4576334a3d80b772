import { UnsafeUrlError } from '../../net/http-client.ts'
import { defineConnector } from '../define.ts'
import {
  type ChatCredentials,
  type ChatPlatform,
  chatCredentials,
  chatDescriptor,
  checkedWebhookTarget,
  isSuccess,
  postMessage,
  sentResult,
} from '../shared/chat.ts'
import {
  callWebhook,
  KEPT_BODY_CHARS,
  parseJson,
  refusal,
  type WebhookResponse,
  type WebhookTarget,
} from '../shared/chat-webhook.ts'
import { verifyBy } from '../shared/credentials.ts'
import { type Notification, NotificationError, type SendResult } from '../shared/notification.ts'
import type { Connector, ConnectorEnv, VerifyResult } from '../types.ts'
import { fromTransport } from '../vendor-error.ts'
import { renderAdaptiveCard, renderMessageCard } from './render.ts'

const TEAMS: ChatPlatform = { name: 'Microsoft Teams', errorText: workflowErrorText }

export const teamsDescriptor = chatDescriptor({
  id: 'teams',
  displayName: 'Microsoft Teams',
  webhookUrl: {
    description:
      'Workflows webhook URL from the "When a Teams webhook request is received" trigger (https://….logic.azure.com/workflows/… or https://….api.powerplatform.com/…), or a legacy Office 365 connector URL (https://….webhook.office.com/webhookb2/…). The URL is the credential.',
  },
  docsUrl:
    'https://support.microsoft.com/en-us/office/create-incoming-webhooks-with-workflows-for-microsoft-teams-8ae491c7-0394-4861-ba59-055e33f75498',
})

/**
 * `workflow`: a Power Automate / Logic Apps HTTP trigger (the Teams "Workflows" webhook), which takes an
 * Adaptive Card in a `message` envelope. `legacy`: an Office 365 connector incoming webhook, which takes a
 * MessageCard; Microsoft has retired these connectors, but old URLs may still be configured.
 */
export type TeamsWebhookKind = 'workflow' | 'legacy'

const WORKFLOW_HOST_RE = /\.(logic\.azure\.com|logic\.azure\.us|api\.powerplatform\.com)$/
const LEGACY_HOST_RE = /\.webhook\.office\.com$/
const LEGACY_OUTLOOK_HOSTS = new Set(['outlook.office.com', 'outlook.office365.com'])

/** Which kind of Teams webhook a URL is, judged by its host and path; undefined when it is neither. */
export function teamsWebhookKind(webhook: URL): TeamsWebhookKind | undefined {
  const host = webhook.hostname.toLowerCase()
  const path = webhook.pathname
  if (WORKFLOW_HOST_RE.test(host) && /\/workflows\/[^/]+\/triggers\/[^/]+\/paths\/invoke\/?$/.test(path))
    return 'workflow'
  if (LEGACY_HOST_RE.test(host) && path.startsWith('/webhookb2/')) return 'legacy'
  if (LEGACY_OUTLOOK_HOSTS.has(host) && path.startsWith('/webhook/')) return 'legacy'
  return undefined
}

export function teamsWebhookProblem(webhook: URL): string | undefined {
  const kind = teamsWebhookKind(webhook)
  if (!kind) {
    return `Microsoft Teams webhookUrl must be a Workflows webhook (….logic.azure.com or ….api.powerplatform.com) or an Office 365 connector webhook (….webhook.office.com); got host ${webhook.hostname}`
  }
  // Without `sig` the trigger only accepts signed-in (OAuth) callers, which a webhook sender cannot be.
  if (kind === 'workflow' && !webhook.searchParams.get('sig')) {
    return 'Microsoft Teams webhookUrl has no sig parameter: set the workflow trigger\'s "Who can trigger the flow?" to "Anyone" and copy the URL again'
  }
  return undefined
}

function target(credentials: ChatCredentials): WebhookTarget & { kind: TeamsWebhookKind } {
  const t = checkedWebhookTarget(credentials, TEAMS.name, teamsWebhookProblem)
  return { ...t, kind: teamsWebhookKind(t.webhook) as TeamsWebhookKind }
}

/** What verify says for a legacy connector URL, which cannot be checked without posting. */
export const TEAMS_LEGACY_VERIFY_ERROR =
  'Microsoft Teams offers no way to check an Office 365 connector webhook without posting to the channel: send a test message to verify it (or move to a Workflows webhook, since Microsoft has retired these connectors)'

/**
 * Microsoft documents no side-effect-free check for either kind of Teams webhook.
 *
 * Workflows: the trigger only takes POST, and refuses any other method with 400 `TriggerRequestMethodNotValid`
 * before a run starts (https://github.com/Azure/logicapps/issues/1441,
 * https://github.com/microsoft/AzUrlShortener/issues/297), while a wrong `sig` is 401
 * `DirectApiInvalidAuthorizationSignature` and a deleted workflow 404 `WorkflowNotFound`. So a GET that earns
 * `TriggerRequestMethodNotValid` shows the workflow exists and the URL is accepted, and posts nothing. What the
 * flow then does with a card (which team, which channel) only a test message shows.
 *
 * Legacy Office 365 connectors: the connector answers 200 as soon as it has a well-formed card and reports
 * delivery problems later, inside a 200 body (https://github.com/MicrosoftDocs/msteams-docs/issues/4145), and a
 * card it refuses proves nothing about the URL. Nothing short of posting tells a live URL from a dead one, so
 * verify says so instead of pretending.
 */
async function verify(credentials: ChatCredentials, env: ConnectorEnv): Promise<VerifyResult> {
  return verifyBy(async () => {
    const t = target(credentials)
    if (t.kind === 'legacy') throw new NotificationError(TEAMS_LEGACY_VERIFY_ERROR)
    return checkWorkflow(t, env)
  })
}

/** The GET a Workflows trigger refuses with `TriggerRequestMethodNotValid` (see verify); throws otherwise. */
async function checkWorkflow(t: WebhookTarget, env: ConnectorEnv): Promise<undefined> {
  const res = await callWebhook(env, TEAMS.name, t, { method: 'GET' })
  if (res.status === 400 && workflowError(res)?.code === 'TriggerRequestMethodNotValid') return undefined
  if (isSuccess(res)) {
    throw new NotificationError(
      'Microsoft Teams accepted a GET request, so this is not a Workflows webhook trigger',
      res.status,
    )
  }
  throw refusal(TEAMS.name, res, workflowErrorText(res))
}

/**
 * The health probe. Workflows: the same side-effect-free GET as verify. Legacy Office 365 connectors: nothing short
 * of posting tells a live URL from a dead one (see verify), and a probe must not post to the channel every few
 * minutes; so the probe checks what can be checked without posting (a well-formed connector URL whose host
 * resolves to an address Patchbay may call) and leaves the rest to real messages, whose refusals show in the
 * delivery history. A legacy URL is verified by a test message that arrives (`"test": true`), and its probes then
 * keep it active instead of failing it for want of a check Microsoft does not offer.
 */
async function probe(credentials: ChatCredentials, env: ConnectorEnv): Promise<VerifyResult> {
  return verifyBy(async () => {
    const t = target(credentials)
    if (t.kind === 'workflow') return checkWorkflow(t, env)
    try {
      await env.http.check(t.url.href)
    } catch (err) {
      if (err instanceof UnsafeUrlError)
        throw fromTransport(new NotificationError(`${TEAMS.name} URL ${err.message}`), err)
      throw err
    }
    return undefined
  })
}

/** A legacy connector's 200 that is really a failure: "Webhook message delivery failed with error: …". */
const LEGACY_FAILURE_RE = /returned HTTP error (\d{3})/

/**
 * Workflows answer 202 once the trigger has the card (the flow posts it afterwards). Legacy connectors answer
 * 200 `1`, or 200 with a failure text carrying the real status (413 too large, 429 throttled, 400 for a removed
 * channel; https://github.com/MicrosoftDocs/msteams-docs/issues/7425, /1810, /400); that status is what the
 * NotificationError carries, so a wrapped 429 is retried like any other. Rate limits: 429 with Retry-After
 * (Power Automate) or the wrapped 429, which says nothing of when (Microsoft suggests backing off,
 * https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#rate-limiting-for-connectors).
 */
async function send(
  credentials: ChatCredentials,
  message: Notification,
  env: ConnectorEnv,
): Promise<SendResult> {
  const t = target(credentials)
  const payload = t.kind === 'workflow' ? renderAdaptiveCard(message) : renderMessageCard(message)
  const res = await postMessage(env, TEAMS, t, payload)
  const wrapped = t.kind === 'legacy' ? LEGACY_FAILURE_RE.exec(res.body) : null
  if (wrapped) {
    throw new NotificationError(
      `${TEAMS.name} answered ${res.status} but reported: ${res.body.trim().slice(0, 500)}`,
      Number(wrapped[1]),
      undefined,
      res.body.slice(0, KEPT_BODY_CHARS),
    )
  }
  return sentResult(res)
}

/** Logic Apps errors are `{"error":{"code","message"}}`. */
function workflowError(res: WebhookResponse): { code?: string; message?: string } | undefined {
  const body = parseJson(res.body) as { error?: unknown } | undefined
  const e = body?.error
  if (!e || typeof e !== 'object') return undefined
  const { code, message } = e as Record<string, unknown>
  return {
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof message === 'string' ? { message } : {}),
  }
}

function workflowErrorText(res: WebhookResponse): string | undefined {
  const e = workflowError(res)
  if (!e) return undefined
  return [e.code, e.message].filter(Boolean).join(': ') || undefined
}

export const teams: Connector = defineConnector(chatCredentials(teamsDescriptor, TEAMS.name), {
  descriptor: teamsDescriptor,
  verify,
  probe,
  notifications: { send },
  chat: {
    webhookUrlProblem: teamsWebhookProblem,
    verifiedOnlyByPost: (url) => teamsWebhookKind(url) === 'legacy',
  },
})
