/**
 * A stand-in for Microsoft Teams incoming webhooks, both kinds, on one real HTTP server on 127.0.0.1:
 * - Workflows (Power Automate / Logic Apps HTTP trigger, the "When a Teams webhook request is received" flow):
 *   `POST /workflows/{id}/triggers/manual/paths/invoke?api-version=…&sp=…&sv=…&sig=…` with a `message`
 *   envelope holding Adaptive Cards;
 * - legacy Office 365 connectors: `POST /webhookb2/{…}` (and `/webhook/{…}`) with a MessageCard.
 *
 *   const teams = await startTeamsStandin()
 *   teams.credentials('workflow')  // { webhookUrl: https://prod-00.westus.logic.azure.com:443/workflows/…, baseUrl }
 *   teams.credentials('legacy')    // { webhookUrl: https://contoso.webhook.office.com/webhookb2/…, baseUrl }
 *   teams.messages                 // accepted payloads, in order: { kind, body }
 *   teams.requests                 // every request: method, path, query, headers, raw/parsed body
 *   teams.rejections               // refused requests: status, body, reason
 *   teams.failNext({ status: 429, retryAfter: 30 })     // Workflows-style 429 with Retry-After
 *   teams.failNext({ status: 502 })
 *   teams.failNext({ status: 429, wrapped: true })      // legacy style: 200 "Webhook message delivery failed
 *                                                       //   with error: … returned HTTP error 429 …"
 *   teams.removeLegacyChannel()    // the legacy hook's channel is gone: posts get a wrapped 400
 *   teams.reset()                  // forget messages, requests, rejections, pending failures
 *   await teams.close()
 *
 * Requests go to `http://teams.test:<port>`; tests resolve `*.test` to 127.0.0.1.
 *
 * Workflows, as Logic Apps answers (error bodies `{"error": {"code", "message"}}`): an unknown workflow is 404
 * `WorkflowNotFound`; a missing `sp`/`sv`/`sig` 401 `DirectApiAuthorizationRequired`; a wrong `sig` 401
 * `DirectApiInvalidAuthorizationSignature`; any method but POST 400 `TriggerRequestMethodNotValid` (nothing
 * runs; the connector's verify relies on it); an accepted POST 202 with no body. The real service accepts any
 * JSON with 202 and fails the flow run later when the card is wrong; the stand-in refuses a body that is not
 * `{type: "message", attachments: [{contentType: "application/vnd.microsoft.card.adaptive", content:
 * {type: "AdaptiveCard", version 1.0–1.5, body: [...]}}]}` (known element types, TextBlock text, FactSet facts
 * of title/value strings, Container styles, Action.OpenUrl with url) synchronously, with 400
 * `TriggerInputSchemaMismatch`, so a test sees the mistake.
 *
 * Legacy connectors: a card with neither `summary` nor `text` is 400 `Summary or Text is required.`; a
 * non-MessageCard 400 `Bad payload received by generic incoming webhook.`; a posted card is 200 `1`; problems
 * behind the connector come back as 200 with `Webhook message delivery failed with error: Microsoft Teams
 * endpoint returned HTTP error N with ContextId …` (https://github.com/MicrosoftDocs/msteams-docs/issues/400).
 *
 * Both: bodies over 28 KB are refused (Workflows 413, legacy wrapped 413), Teams' documented message limit.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { listenLoopback, type StandinRequest, standinRequest, WebhookLog, type WireReply } from './standin.ts'

export type { StandinRequest } from './standin.ts'

export type TeamsKind = 'workflow' | 'legacy'

export interface TeamsFailure {
  status: number
  /** Seconds, sent as Retry-After (Workflows 429 defaults to 1). */
  retryAfter?: number
  /** Legacy style: answer 200 with the failure text carrying `status`. */
  wrapped?: boolean
  body?: string
  headers?: Record<string, string>
}

export interface TeamsStandin {
  /** `http://teams.test:<port>`: the connector's `baseUrl`. */
  baseUrl: string
  workflowUrl: string
  legacyUrl: string
  credentials(kind: TeamsKind): { webhookUrl: string; baseUrl: string }
  messages: { kind: TeamsKind; body: Record<string, unknown> }[]
  requests: StandinRequest[]
  rejections: { status: number; body: string; reason: string }[]
  failNext(failure: TeamsFailure): void
  removeLegacyChannel(): void
  /** Forgets messages, requests, rejections and pending failures; the legacy channel is back. */
  reset(): void
  close(): Promise<void>
}

export const TEAMS_STANDIN_MAX_BYTES = 28 * 1024

const ADAPTIVE = 'application/vnd.microsoft.card.adaptive'
const ELEMENTS = new Set([
  'TextBlock',
  'FactSet',
  'Container',
  'ColumnSet',
  'Image',
  'RichTextBlock',
  'ActionSet',
])
const CONTAINER_STYLES = new Set(['default', 'emphasis', 'good', 'attention', 'warning', 'accent'])

export async function startTeamsStandin(): Promise<TeamsStandin> {
  const workflowId = randomBytes(16).toString('hex')
  const sig = randomBytes(32).toString('base64url')
  const legacyPath = `/webhookb2/${randomUUID()}@${randomUUID()}/IncomingWebhook/${randomBytes(16).toString('hex')}/${randomUUID()}`
  const log = new WebhookLog<
    TeamsStandin['messages'][number],
    TeamsStandin['rejections'][number],
    TeamsFailure
  >()
  const { failures, messages, requests, rejections } = log
  let legacyChannelGone = false

  const server = await listenLoopback((incoming) => {
    const r = standinRequest(incoming)
    requests.push(r)
    const isLegacy = r.path.startsWith('/webhookb2/') || r.path.startsWith('/webhook/')
    const send = (status: number, body: string, headers: Record<string, string> = {}): WireReply => ({
      status,
      headers,
      body,
    })
    const text = (status: number, body: string) =>
      send(status, body, { 'content-type': 'text/plain; charset=utf-8' })
    const wrappedFailure = (status: number) =>
      text(
        200,
        `Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error ${status} with ContextId tcid=0,server=msgapi-standin,cv=${randomBytes(8).toString('base64url')}.0..`,
      )
    const workflowError = (status: number, code: string, message: string, reason = message) => {
      const body = JSON.stringify({ error: { code, message } })
      rejections.push({ status, body, reason })
      return send(status, body, { 'content-type': 'application/json; charset=utf-8' })
    }
    const legacyRefusal = (status: number, body: string, reason = body) => {
      rejections.push({ status, body, reason })
      return text(status, body)
    }

    const failure = failures.shift()
    if (failure) {
      if (failure.wrapped) return wrappedFailure(failure.status)
      const headers: Record<string, string> = {
        'content-type': 'application/json; charset=utf-8',
        ...failure.headers,
      }
      const retryAfter = failure.retryAfter ?? (failure.status === 429 ? 1 : undefined)
      if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter)
      const body =
        failure.body ??
        JSON.stringify({
          error: {
            code: failure.status === 429 ? 'TooManyRequests' : 'ServiceUnavailable',
            message: `Stand-in failure ${failure.status}.`,
          },
        })
      return send(failure.status, body, headers)
    }

    const tooBig = Buffer.byteLength(r.rawBody, 'utf8') > TEAMS_STANDIN_MAX_BYTES
    if (isLegacy) {
      if (r.path !== legacyPath) return wrappedFailure(404)
      if (r.method !== 'POST')
        return legacyRefusal(405, 'The requested resource does not support http method.')
      if (tooBig) return wrappedFailure(413)
      const card = r.body as Record<string, unknown> | undefined
      if (!card || typeof card !== 'object' || card['@type'] !== 'MessageCard')
        return legacyRefusal(400, 'Bad payload received by generic incoming webhook.', 'not a MessageCard')
      const hasSummary = typeof card.summary === 'string' && card.summary.trim() !== ''
      const hasText = typeof card.text === 'string' && card.text.trim() !== ''
      if (!hasSummary && !hasText) return legacyRefusal(400, 'Summary or Text is required.')
      const problem = messageCardProblem(card)
      if (problem) return legacyRefusal(400, 'Bad payload received by generic incoming webhook.', problem)
      if (legacyChannelGone) return wrappedFailure(400)
      messages.push({ kind: 'legacy', body: card })
      return text(200, '1')
    }

    const m = /\/workflows\/([^/]+)\/triggers\/([^/]+)\/paths\/invoke\/?$/.exec(r.path)
    if (!m || m[1] !== workflowId)
      return workflowError(404, 'WorkflowNotFound', 'The workflow could not be found.')
    if (!r.query.sp || !r.query.sv || !r.query.sig)
      return workflowError(
        401,
        'DirectApiAuthorizationRequired',
        'The request must be authenticated only by Shared Access scheme.',
      )
    if (r.query.sig !== sig)
      return workflowError(
        401,
        'DirectApiInvalidAuthorizationSignature',
        'The provided authorization signature is not valid.',
      )
    if (r.method !== 'POST')
      return workflowError(
        400,
        'TriggerRequestMethodNotValid',
        `The HTTP method for this request is not valid: expected 'Post' and actual '${r.method}'.`,
      )
    if (tooBig)
      return workflowError(
        413,
        'RequestEntityTooLarge',
        `The request body is larger than ${TEAMS_STANDIN_MAX_BYTES} bytes.`,
      )
    const problem = envelopeProblem(r.body)
    if (problem)
      return workflowError(
        400,
        'TriggerInputSchemaMismatch',
        `The input body for trigger 'manual' of type 'Request' did not match its schema definition. Error details: '${problem}'.`,
        problem,
      )
    messages.push({ kind: 'workflow', body: r.body as Record<string, unknown> })
    return send(202, '')
  })
  const baseUrl = `http://teams.test:${server.port}`
  const workflowUrl = `https://prod-00.westus.logic.azure.com:443/workflows/${workflowId}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${sig}`
  const legacyUrl = `https://contoso.webhook.office.com${legacyPath}`

  return {
    baseUrl,
    workflowUrl,
    legacyUrl,
    credentials(kind) {
      return { webhookUrl: kind === 'workflow' ? workflowUrl : legacyUrl, baseUrl }
    },
    messages,
    requests,
    rejections,
    failNext(failure) {
      failures.push(failure)
    },
    removeLegacyChannel() {
      legacyChannelGone = true
    },
    reset() {
      legacyChannelGone = false
      log.reset()
    },
    close: () => server.close(),
  }
}

/** The Workflows webhook body: a `message` with Adaptive Card attachments. */
export function envelopeProblem(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return 'body is not a JSON object'
  const b = body as Record<string, unknown>
  if (b.type !== 'message') return 'type must be "message"'
  if (!Array.isArray(b.attachments) || b.attachments.length === 0)
    return 'attachments must be a non-empty array'
  for (const [i, a] of b.attachments.entries()) {
    const att = a as Record<string, unknown>
    if (att?.contentType !== ADAPTIVE) return `attachments[${i}].contentType must be ${ADAPTIVE}`
    const card = att.content as Record<string, unknown> | undefined
    if (card?.type !== 'AdaptiveCard') return `attachments[${i}].content.type must be AdaptiveCard`
    const version = Number.parseFloat(String(card.version))
    if (!(version >= 1 && version <= 1.5)) return `attachments[${i}].content.version must be 1.0 to 1.5`
    if (!Array.isArray(card.body)) return `attachments[${i}].content.body must be an array`
    const p = elementsProblem(card.body, `attachments[${i}].content.body`)
    if (p) return p
    if (card.actions !== undefined) {
      if (!Array.isArray(card.actions)) return `attachments[${i}].content.actions must be an array`
      for (const [j, act] of card.actions.entries()) {
        const ac = act as Record<string, unknown>
        if (ac?.type !== 'Action.OpenUrl') return `actions[${j}].type must be Action.OpenUrl`
        if (typeof ac.url !== 'string' || !/^https?:\/\//.test(ac.url))
          return `actions[${j}].url must be a URL`
        if (typeof ac.title !== 'string' || !ac.title) return `actions[${j}].title is required`
      }
    }
  }
  return undefined
}

function elementsProblem(elements: unknown[], where: string): string | undefined {
  for (const [i, raw] of elements.entries()) {
    const e = raw as Record<string, unknown>
    const at = `${where}[${i}]`
    if (!e || typeof e.type !== 'string' || !ELEMENTS.has(e.type)) return `${at}.type is not a known element`
    if (e.type === 'TextBlock' && (typeof e.text !== 'string' || e.text === ''))
      return `${at}.text is required`
    if (e.type === 'FactSet') {
      if (!Array.isArray(e.facts)) return `${at}.facts must be an array`
      for (const [j, f] of e.facts.entries()) {
        const fact = f as Record<string, unknown>
        if (typeof fact?.title !== 'string' || typeof fact.value !== 'string')
          return `${at}.facts[${j}] needs string title and value`
      }
    }
    if (e.type === 'Container') {
      if (e.style !== undefined && !CONTAINER_STYLES.has(String(e.style)))
        return `${at}.style is not a container style`
      if (!Array.isArray(e.items)) return `${at}.items must be an array`
      const p = elementsProblem(e.items, `${at}.items`)
      if (p) return p
    }
  }
  return undefined
}

/** MessageCard shape (https://learn.microsoft.com/en-us/outlook/actionable-messages/message-card-reference). */
export function messageCardProblem(card: Record<string, unknown>): string | undefined {
  for (const key of ['summary', 'title', 'text', 'themeColor'] as const) {
    if (card[key] !== undefined && typeof card[key] !== 'string') return `${key} must be a string`
  }
  if (card.sections !== undefined) {
    if (!Array.isArray(card.sections)) return 'sections must be an array'
    for (const [i, s] of card.sections.entries()) {
      const facts = (s as Record<string, unknown>)?.facts
      if (facts === undefined) continue
      if (!Array.isArray(facts)) return `sections[${i}].facts must be an array`
      for (const [j, f] of facts.entries()) {
        const fact = f as Record<string, unknown>
        if (typeof fact?.name !== 'string' || typeof fact.value !== 'string')
          return `sections[${i}].facts[${j}] needs string name and value`
      }
    }
  }
  if (card.potentialAction !== undefined) {
    if (!Array.isArray(card.potentialAction)) return 'potentialAction must be an array'
    for (const [i, a] of card.potentialAction.entries()) {
      const act = a as Record<string, unknown>
      if (act?.['@type'] !== 'OpenUri') return `potentialAction[${i}] must be OpenUri`
      const targets = act.targets as Record<string, unknown>[] | undefined
      if (
        !Array.isArray(targets) ||
        !targets.every((t) => typeof t?.uri === 'string' && typeof t.os === 'string')
      )
        return `potentialAction[${i}].targets must list {os, uri}`
    }
  }
  return undefined
}
