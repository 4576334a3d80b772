/**
 * A stand-in for Slack incoming webhooks (https://api.slack.com/messaging/webhooks): a real HTTP server on
 * 127.0.0.1 that accepts what Slack accepts and refuses the rest with Slack's own status and error string.
 *
 *   const slack = await startSlackStandin()
 *   // credentials for the Slack connector: a real-looking hooks.slack.com URL, and baseUrl pointing here
 *   const creds = slack.credentials()            // { webhookUrl, baseUrl }
 *   const other = slack.credentials(slack.addWebhook())   // a second channel on the same stand-in
 *   slack.messages                               // accepted payloads, in order: { hook, body }
 *   slack.requests                               // every request: method, path, headers, raw and parsed body
 *   slack.rejections                             // refused requests with the reason, for diagnosing a test
 *   slack.failNext({ status: 429, retryAfter: 30 })  // next request: 429 `rate_limited`, Retry-After: 30
 *   slack.failNext({ status: 404 })              // next request: 404 `channel_not_found`
 *   slack.failNext({ status: 500 })              // next request: 500 `rollup_error`
 *   slack.revoke(hook)                           // the hook's token stops working (403 `invalid_token`)
 *   slack.reset()                                // forget messages, requests, rejections, pending failures
 *   await slack.close()
 *
 * Requests go to `http://slack.test:<port>`; tests resolve `*.test` to 127.0.0.1. What it checks:
 * - the path is `/services/{team}/{hook}/{token}`: an unknown hook is 404 `no_service`, a wrong or revoked
 *   token 403 `invalid_token`;
 * - the body is JSON (`application/json`), else 400 `invalid_payload`;
 * - `text` or `blocks` is present, else 400 `no_text` (so an empty payload to a live hook posts nothing, which
 *   is how the connector verifies a URL);
 * - `blocks`: at most 50; types header, section, context, actions, divider; header text plain_text ≤ 150;
 *   section text ≤ 3,000 or 1–10 fields ≤ 2,000 each; context 1–10 elements ≤ 3,000; actions 1–25 buttons,
 *   button text plain_text ≤ 75, url ≤ 3,000 (https://api.slack.com/reference/block-kit/blocks); anything else
 *   is 400 `invalid_blocks`;
 * - `text` ≤ 40,000 characters. Slack itself truncates longer text; the stand-in refuses it
 *   (400 `msg_too_long`) so a test notices a renderer that does not truncate.
 * Accepted messages are answered 200 `ok` (text/plain), as Slack does.
 */
import { randomBytes } from 'node:crypto'
import { listenLoopback, type StandinRequest, standinRequest, WebhookLog, type WireReply } from './standin.ts'

export type { StandinRequest } from './standin.ts'

export interface SlackFailure {
  status: number
  /** Slack's error string; defaults by status (429 `rate_limited`, 404 `channel_not_found`, 5xx `rollup_error`…). */
  body?: string
  /** Seconds, sent as Retry-After (429 defaults to 1). */
  retryAfter?: number
  /** Extra headers; they win over the defaults (e.g. an HTTP-date Retry-After). */
  headers?: Record<string, string>
}

export interface SlackHook {
  team: string
  id: string
  token: string
  /** `https://hooks.slack.com/services/{team}/{id}/{token}` */
  webhookUrl: string
}

export interface SlackStandin {
  /** `http://slack.test:<port>`: the connector's `baseUrl`. */
  baseUrl: string
  /** The first hook. */
  hook: SlackHook
  credentials(hook?: SlackHook | string): { webhookUrl: string; baseUrl: string }
  addWebhook(): SlackHook
  revoke(hook: SlackHook): void
  messages: { hook: string; body: Record<string, unknown> }[]
  requests: StandinRequest[]
  rejections: { status: number; error: string; reason: string }[]
  failNext(failure: SlackFailure): void
  /** Forgets messages, requests, rejections and pending failures. */
  reset(): void
  close(): Promise<void>
}

export const SLACK_STANDIN_LIMITS = {
  text: 40_000,
  blocks: 50,
  header: 150,
  sectionText: 3_000,
  sectionFields: 10,
  field: 2_000,
  contextElements: 10,
  contextText: 3_000,
  actionsElements: 25,
  buttonText: 75,
  buttonUrl: 3_000,
} as const

const DEFAULT_BODY: Record<number, string> = {
  400: 'invalid_payload',
  403: 'action_prohibited',
  404: 'channel_not_found',
  410: 'channel_is_archived',
  429: 'rate_limited',
}

export async function startSlackStandin(): Promise<SlackStandin> {
  const hooks = new Map<string, SlackHook & { revoked: boolean }>()
  const log = new WebhookLog<
    SlackStandin['messages'][number],
    SlackStandin['rejections'][number],
    SlackFailure
  >()
  const { failures, messages, requests, rejections } = log

  const newHook = (): SlackHook => {
    const team = `T${randomBytes(4).toString('hex').toUpperCase()}`
    const id = `B${randomBytes(4).toString('hex').toUpperCase()}`
    const token = randomBytes(12).toString('hex')
    const hook = { team, id, token, webhookUrl: `https://hooks.slack.com/services/${team}/${id}/${token}` }
    hooks.set(id, { ...hook, revoked: false })
    return hook
  }

  const server = await listenLoopback((incoming) => {
    const r = standinRequest(incoming)
    requests.push(r)
    const answer = (status: number, text: string, headers: Record<string, string> = {}): WireReply => ({
      status,
      headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
      body: text,
    })
    const refuse = (status: number, error: string, reason: string): WireReply => {
      rejections.push({ status, error, reason })
      return answer(status, error)
    }

    const failure = failures.shift()
    if (failure) {
      const retryAfter = failure.retryAfter ?? (failure.status === 429 ? 1 : undefined)
      const headers: Record<string, string> = {
        ...(retryAfter !== undefined ? { 'retry-after': String(retryAfter) } : {}),
        ...failure.headers,
      }
      const body =
        failure.body ?? DEFAULT_BODY[failure.status] ?? (failure.status >= 500 ? 'rollup_error' : '')
      return answer(failure.status, body, headers)
    }

    const m = /^\/services\/([^/]+)\/([^/]+)\/([^/]+)\/?$/.exec(r.path)
    const hook = m ? hooks.get(m[2] as string) : undefined
    if (!m || !hook || hook.team !== m[1]) return refuse(404, 'no_service', `no hook at ${r.path}`)
    if (hook.revoked || hook.token !== m[3])
      return refuse(403, 'invalid_token', 'token does not match the hook')
    if (r.method !== 'POST') return refuse(400, 'invalid_payload', `method ${r.method}`)
    if (!String(r.headers['content-type'] ?? '').startsWith('application/json'))
      return refuse(400, 'invalid_payload', `content-type ${r.headers['content-type']}`)
    if (!r.body || typeof r.body !== 'object' || Array.isArray(r.body))
      return refuse(400, 'invalid_payload', 'body is not a JSON object')
    const body = r.body as Record<string, unknown>
    const hasText = typeof body.text === 'string' && body.text.trim() !== ''
    const hasBlocks = Array.isArray(body.blocks) && body.blocks.length > 0
    if (!hasText && !hasBlocks) return refuse(400, 'no_text', 'neither text nor blocks')
    if (body.text !== undefined && typeof body.text !== 'string')
      return refuse(400, 'invalid_payload', 'text is not a string')
    if (typeof body.text === 'string' && body.text.length > SLACK_STANDIN_LIMITS.text)
      return refuse(400, 'msg_too_long', `text is ${body.text.length} characters`)
    for (const key of ['channel', 'username'] as const) {
      if (body[key] !== undefined && typeof body[key] !== 'string')
        return refuse(400, 'invalid_payload', `${key} is not a string`)
    }
    if (body.blocks !== undefined) {
      const problem = blocksProblem(body.blocks)
      if (problem) return refuse(400, 'invalid_blocks', problem)
    }
    messages.push({ hook: hook.id, body })
    return answer(200, 'ok')
  })
  const baseUrl = `http://slack.test:${server.port}`
  const first = newHook()

  return {
    baseUrl,
    hook: first,
    credentials(hook = first) {
      return { webhookUrl: typeof hook === 'string' ? hook : hook.webhookUrl, baseUrl }
    },
    addWebhook: newHook,
    revoke(hook) {
      const h = hooks.get(hook.id)
      if (h) h.revoked = true
    },
    messages,
    requests,
    rejections,
    failNext(failure) {
      failures.push(failure)
    },
    reset: () => log.reset(),
    close: () => server.close(),
  }
}

function textObject(
  v: unknown,
  where: string,
  max: number,
  types: readonly string[] = ['plain_text', 'mrkdwn'],
): string | undefined {
  if (!v || typeof v !== 'object') return `${where} is not a text object`
  const t = v as Record<string, unknown>
  if (typeof t.type !== 'string' || !types.includes(t.type))
    return `${where}.type must be ${types.join(' or ')}`
  if (typeof t.text !== 'string' || t.text.length === 0) return `${where}.text is missing`
  if (t.text.length > max) return `${where}.text is ${t.text.length} characters (max ${max})`
  if (t.emoji !== undefined && (t.type !== 'plain_text' || typeof t.emoji !== 'boolean'))
    return `${where}.emoji is only for plain_text`
  return undefined
}

/** Block Kit rules for the block types a notification can use (https://api.slack.com/reference/block-kit/blocks). */
export function blocksProblem(blocks: unknown): string | undefined {
  const L = SLACK_STANDIN_LIMITS
  if (!Array.isArray(blocks)) return 'blocks is not an array'
  if (blocks.length > L.blocks) return `${blocks.length} blocks (max ${L.blocks})`
  for (const [i, raw] of blocks.entries()) {
    const where = `blocks[${i}]`
    if (!raw || typeof raw !== 'object') return `${where} is not an object`
    const b = raw as Record<string, unknown>
    switch (b.type) {
      case 'divider':
        break
      case 'header': {
        const p = textObject(b.text, `${where}.text`, L.header, ['plain_text'])
        if (p) return p
        break
      }
      case 'section': {
        if (b.text === undefined && b.fields === undefined) return `${where} needs text or fields`
        if (b.text !== undefined) {
          const p = textObject(b.text, `${where}.text`, L.sectionText)
          if (p) return p
        }
        if (b.fields !== undefined) {
          if (!Array.isArray(b.fields) || b.fields.length === 0 || b.fields.length > L.sectionFields)
            return `${where}.fields must hold 1 to ${L.sectionFields} text objects`
          for (const [j, f] of b.fields.entries()) {
            const p = textObject(f, `${where}.fields[${j}]`, L.field)
            if (p) return p
          }
        }
        break
      }
      case 'context': {
        if (!Array.isArray(b.elements) || b.elements.length === 0 || b.elements.length > L.contextElements)
          return `${where}.elements must hold 1 to ${L.contextElements} elements`
        for (const [j, e] of b.elements.entries()) {
          const p = textObject(e, `${where}.elements[${j}]`, L.contextText)
          if (p) return p
        }
        break
      }
      case 'actions': {
        if (!Array.isArray(b.elements) || b.elements.length === 0 || b.elements.length > L.actionsElements)
          return `${where}.elements must hold 1 to ${L.actionsElements} elements`
        for (const [j, e] of b.elements.entries()) {
          const el = e as Record<string, unknown>
          if (el?.type !== 'button') return `${where}.elements[${j}] is not a button`
          const p = textObject(el.text, `${where}.elements[${j}].text`, L.buttonText, ['plain_text'])
          if (p) return p
          if (el.url !== undefined && (typeof el.url !== 'string' || el.url.length > L.buttonUrl))
            return `${where}.elements[${j}].url must be a string of at most ${L.buttonUrl} characters`
          if (el.action_id !== undefined && (typeof el.action_id !== 'string' || el.action_id.length > 255))
            return `${where}.elements[${j}].action_id must be at most 255 characters`
        }
        break
      }
      default:
        return `${where}.type ${JSON.stringify(b.type)} is not a block a notification uses`
    }
    if (b.block_id !== undefined && (typeof b.block_id !== 'string' || b.block_id.length > 255))
      return `${where}.block_id must be at most 255 characters`
  }
  return undefined
}
