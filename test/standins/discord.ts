/**
 * A stand-in for Discord channel webhooks: a real HTTP server on 127.0.0.1 that checks execute-webhook bodies
 * against Discord's official OpenAPI description (copied, with its provenance, to
 * test/fixtures/discord-webhook-spec.json) and answers with Discord's own error shapes.
 *
 *   const discord = await startDiscordStandin()
 *   const creds = discord.credentials()          // { webhookUrl: https://discord.com/api/webhooks/{id}/{token}, baseUrl }
 *   const other = discord.credentials(discord.addWebhook('ops'))
 *   discord.messages                             // accepted bodies, in order: { webhookId, body, wait }
 *   discord.requests                             // every request: method, path, query, headers, raw/parsed body
 *   discord.rejections                           // refused requests: status and Discord's JSON error body
 *   discord.failNext({ status: 429, retryAfter: 2.5 })   // body {message, retry_after: 2.5, global: false}
 *                                                        // + Retry-After: 3 and X-RateLimit-* headers
 *   discord.failNext({ status: 429, retryAfter: 7, body: '' })  // headers only
 *   discord.failNext({ status: 500 })            // {"message": "500: Internal Server Error", "code": 0}
 *   discord.failNext({ status: 429, retryAfter: 4.25, body: '', noRetryAfterHeader: true })  // only X-RateLimit-Reset-After
 *   discord.rateLimit = { limit: 5, remaining: 0, resetAfter: 1.5 }  // X-RateLimit-* on normal answers
 *   discord.reset()                              // forget messages, requests, rejections, pending failures
 *   await discord.close()
 *
 * Requests go to `http://discord.test:<port>`; tests resolve `*.test` to 127.0.0.1. Routes:
 * `GET|POST /api[/v10]/webhooks/{id}/{token}`. An unknown id is 404 `{"message": "Unknown Webhook", "code":
 * 10015}`, a known id with a wrong token 401 `{"message": "Invalid Webhook Token", "code": 50027}`.
 * `GET` answers the webhook object (https://discord.com/developers/docs/resources/webhook#get-webhook-with-token).
 * `POST` (JSON) is checked against IncomingWebhookRequestPartial and RichEmbed from the fixture (content ≤ 2,000,
 * ≤ 10 embeds, title ≤ 256, description ≤ 4,096, ≤ 25 fields, field name ≤ 256 / value ≤ 1,024, footer ≤ 2,048,
 * colour 0–16777215, username 1–80…), and against the documented rules the schema cannot say: at least one of
 * content/embeds/components/attachments/poll (else 400 `Cannot send an empty message`, 50006), all embeds
 * together ≤ 6,000 characters, field names and values not empty
 * (https://discord.com/developers/docs/resources/message#embed-object-embed-limits). Invalid bodies get 400
 * `{"code": 50035, "errors": {…: {"_errors": [{code, message}]}}, "message": "Invalid Form Body"}`. Unlike
 * Discord, unknown properties are refused too, so a misspelt field fails a test instead of vanishing.
 * `?wait=true` answers 200 with the message object, otherwise 204.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { listenLoopback, type StandinRequest, standinRequest, WebhookLog, type WireReply } from './standin.ts'

export type { StandinRequest } from './standin.ts'

const SPEC = JSON.parse(
  readFileSync(new URL('../fixtures/discord-webhook-spec.json', import.meta.url), 'utf8'),
) as { schemas: Record<string, Schema> }

type Schema = {
  type?: string | string[]
  properties?: Record<string, Schema>
  required?: string[]
  maxLength?: number
  minLength?: number
  maxItems?: number
  minimum?: number
  maximum?: number
  pattern?: string
  format?: string
  enum?: unknown[]
  const?: unknown
  items?: Schema
  oneOf?: Schema[]
  anyOf?: Schema[]
  allOf?: Schema[]
  $ref?: string
  'x-pruned'?: string
}

export interface DiscordFailure {
  status: number
  /** Seconds (may be fractional); for 429 sent as `retry_after` in the body and, rounded up, as Retry-After. */
  retryAfter?: number
  global?: boolean
  /** Leave Retry-After out of a 429 (X-RateLimit-Reset-After is still sent). */
  noRetryAfterHeader?: boolean
  /** Replaces the default JSON body; `''` sends none. */
  body?: string | Record<string, unknown>
  headers?: Record<string, string>
}

export interface DiscordWebhook {
  id: string
  token: string
  name: string
  channelId: string
  guildId: string
  webhookUrl: string
}

export interface DiscordStandin {
  /** `http://discord.test:<port>`: the connector's `baseUrl`. */
  baseUrl: string
  webhook: DiscordWebhook
  credentials(hook?: DiscordWebhook | string): { webhookUrl: string; baseUrl: string }
  addWebhook(name?: string): DiscordWebhook
  messages: { webhookId: string; body: Record<string, unknown>; wait: boolean }[]
  requests: StandinRequest[]
  rejections: { status: number; body: Record<string, unknown> }[]
  /** X-RateLimit-* sent with every webhook answer. */
  rateLimit: { limit: number; remaining: number; resetAfter: number }
  failNext(failure: DiscordFailure): void
  /** Forgets messages, requests, rejections and pending failures. */
  reset(): void
  close(): Promise<void>
}

/** The limits Discord documents beside its schema (https://discord.com/developers/docs/resources/message#embed-object-embed-limits). */
export const DISCORD_EMBED_TOTAL = 6_000

export async function startDiscordStandin(): Promise<DiscordStandin> {
  const hooks = new Map<string, DiscordWebhook>()
  const log = new WebhookLog<
    DiscordStandin['messages'][number],
    DiscordStandin['rejections'][number],
    DiscordFailure
  >()
  const { failures, messages, requests, rejections } = log
  let nextSnowflake = 1_200_000_000_000_000_000n

  const snowflake = () => String(nextSnowflake++)
  const newHook = (name = 'Patchbay alerts'): DiscordWebhook => {
    const id = snowflake()
    const token = randomBytes(34).toString('base64url')
    const hook: DiscordWebhook = {
      id,
      token,
      name,
      channelId: snowflake(),
      guildId: snowflake(),
      webhookUrl: `https://discord.com/api/webhooks/${id}/${token}`,
    }
    hooks.set(id, hook)
    return hook
  }

  let standin: DiscordStandin
  const server = await listenLoopback((incoming) => {
    const r = standinRequest(incoming)
    requests.push(r)
    const rl = standin.rateLimit
    const rateHeaders = {
      'x-ratelimit-limit': String(rl.limit),
      'x-ratelimit-remaining': String(rl.remaining),
      'x-ratelimit-reset': String(Date.now() / 1000 + rl.resetAfter),
      'x-ratelimit-reset-after': rl.resetAfter.toFixed(3),
      'x-ratelimit-bucket': 'standin-bucket',
    }
    const json = (status: number, body: unknown, headers: Record<string, string> = {}): WireReply => ({
      status,
      headers: { 'content-type': 'application/json', ...rateHeaders, ...headers },
      body: body === undefined ? '' : JSON.stringify(body),
    })
    const refuse = (status: number, body: Record<string, unknown>): WireReply => {
      rejections.push({ status, body })
      return json(status, body)
    }

    const failure = failures.shift()
    if (failure) {
      const headers: Record<string, string> = {}
      let body: string | Record<string, unknown>
      if (failure.status === 429) {
        const after = failure.retryAfter ?? 1
        if (!failure.noRetryAfterHeader) headers['retry-after'] = String(Math.ceil(after))
        Object.assign(headers, {
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset-after': after.toFixed(3),
          'x-ratelimit-scope': failure.global ? 'global' : 'user',
        })
        if (failure.global) headers['x-ratelimit-global'] = 'true'
        body = {
          message: 'You are being rate limited.',
          retry_after: after,
          global: failure.global ?? false,
          code: 0,
        }
      } else if (failure.status >= 500) {
        body = {
          message: `${failure.status}: ${http.STATUS_CODES[failure.status] ?? 'Server Error'}`,
          code: 0,
        }
      } else {
        body = { message: http.STATUS_CODES[failure.status] ?? 'Error', code: 0 }
      }
      if (failure.body !== undefined) body = failure.body
      return {
        status: failure.status,
        headers: {
          ...rateHeaders,
          ...(body === '' ? {} : { 'content-type': 'application/json' }),
          ...headers,
          ...failure.headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }
    }

    const m = /^\/api(?:\/v\d+)?\/webhooks\/(\d+)\/([^/]+)\/?$/.exec(r.path)
    if (!m) return refuse(404, { message: '404: Not Found', code: 0 })
    const hook = hooks.get(m[1] as string)
    if (!hook) return refuse(404, { message: 'Unknown Webhook', code: 10015 })
    if (hook.token !== m[2]) return refuse(401, { message: 'Invalid Webhook Token', code: 50027 })

    if (r.method === 'GET') {
      return json(200, {
        application_id: null,
        avatar: null,
        channel_id: hook.channelId,
        guild_id: hook.guildId,
        id: hook.id,
        name: hook.name,
        type: 1,
        token: hook.token,
        url: `https://discord.com/api/webhooks/${hook.id}/${hook.token}`,
      })
    }
    if (r.method !== 'POST') return refuse(405, { message: '405: Method Not Allowed', code: 0 })
    if (!String(r.headers['content-type'] ?? '').startsWith('application/json') || r.body === undefined)
      return refuse(400, { message: 'The request body contains invalid JSON.', code: 50109 })

    const errors = executeWebhookProblems(r.body)
    const empty = errors.find((e) => e.code === 'EMPTY_MESSAGE')
    if (empty) return refuse(400, { message: 'Cannot send an empty message', code: 50006 })
    if (errors.length)
      return refuse(400, { code: 50035, errors: nestErrors(errors), message: 'Invalid Form Body' })

    const body = r.body as Record<string, unknown>
    const wait = r.query.wait === 'true'
    messages.push({ webhookId: hook.id, body, wait })
    if (!wait) return json(204, undefined)
    return json(200, {
      id: snowflake(),
      type: 0,
      content: body.content ?? '',
      channel_id: hook.channelId,
      author: {
        id: hook.id,
        username: body.username ?? hook.name,
        avatar: null,
        discriminator: '0000',
        bot: true,
      },
      attachments: [],
      embeds: body.embeds ?? [],
      mentions: [],
      mention_roles: [],
      pinned: false,
      mention_everyone: false,
      tts: false,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      flags: 0,
      components: [],
      webhook_id: hook.id,
    })
  })
  const baseUrl = `http://discord.test:${server.port}`
  const first = newHook()

  standin = {
    baseUrl,
    webhook: first,
    credentials(hook = first) {
      return { webhookUrl: typeof hook === 'string' ? hook : hook.webhookUrl, baseUrl }
    },
    addWebhook: newHook,
    messages,
    requests,
    rejections,
    rateLimit: { limit: 5, remaining: 4, resetAfter: 1 },
    failNext(failure) {
      failures.push(failure)
    },
    reset: () => log.reset(),
    close: () => server.close(),
  }
  return standin
}

/** What Discord would refuse in an execute-webhook body: the schema first, then the documented rules. */
export function executeWebhookProblems(body: unknown): FieldError[] {
  const errors = validate(body, SPEC.schemas.IncomingWebhookRequestPartial as Schema, [])
  if (!errors.length) errors.push(...documentedRules(body as Record<string, unknown>))
  return errors
}

export interface FieldError {
  path: (string | number)[]
  code: string
  message: string
}

function resolve(s: Schema): Schema {
  if (!s.$ref) return s
  const name = s.$ref.replace('#/components/schemas/', '')
  const target = SPEC.schemas[name]
  if (!target) throw new Error(`fixture lacks schema ${name}`)
  return resolve(target)
}

function typeOf(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number'
  return typeof v
}

/** The subset of JSON Schema the Discord document uses for these bodies. */
export function validate(value: unknown, schema: Schema, path: (string | number)[]): FieldError[] {
  const s = resolve(schema)
  if (s['x-pruned'] && !s.type) return []
  const alternatives = s.oneOf ?? s.anyOf
  if (alternatives) {
    let best: FieldError[] | undefined
    for (const alt of alternatives) {
      const errs = validate(value, alt, path)
      if (!errs.length) return []
      if (!best || errs.length < best.length) best = errs
    }
    // `{type: string, oneOf: [{const…}]}` style enums also land here.
    return best ?? []
  }
  const errors: FieldError[] = []
  for (const part of s.allOf ?? []) errors.push(...validate(value, part, path))
  if (s.type) {
    const types = Array.isArray(s.type) ? s.type : [s.type]
    const actual = typeOf(value)
    const ok = types.includes(actual) || (actual === 'integer' && types.includes('number'))
    if (!ok) return [{ path, code: 'BASE_TYPE_BAD_TYPE', message: `Must be of type ${types.join(' or ')}.` }]
  }
  if (s.const !== undefined && value !== s.const)
    errors.push({ path, code: 'BASE_TYPE_CHOICES', message: 'Value must be one of the allowed values.' })
  if (s.enum && !s.enum.includes(value))
    errors.push({ path, code: 'BASE_TYPE_CHOICES', message: 'Value must be one of the allowed values.' })
  if (typeof value === 'string') {
    if (s.maxLength !== undefined && [...value].length > s.maxLength)
      errors.push({
        path,
        code: 'BASE_TYPE_MAX_LENGTH',
        message: `Must be ${s.maxLength} or fewer in length.`,
      })
    if (s.minLength !== undefined && [...value].length < s.minLength)
      errors.push({
        path,
        code: 'BASE_TYPE_MIN_LENGTH',
        message: `Must be ${s.minLength} or more in length.`,
      })
    if (s.pattern && !new RegExp(s.pattern).test(value))
      errors.push({
        path,
        code: 'BASE_TYPE_BAD_FORMAT',
        message: 'Value does not match the required format.',
      })
    if (s.format === 'date-time' && Number.isNaN(Date.parse(value)))
      errors.push({
        path,
        code: 'DATE_TIME_TYPE_PARSE',
        message: `Could not parse ${value}. Should be ISO8601.`,
      })
    if (s.format === 'uri' && !/^(https?|attachment):\/\/\S+$/.test(value))
      errors.push({ path, code: 'URL_TYPE_INVALID_URL', message: 'Not a well formed URL.' })
  }
  if (typeof value === 'number') {
    if (s.maximum !== undefined && value > s.maximum)
      errors.push({
        path,
        code: 'NUMBER_TYPE_MAX',
        message: `int value should be less than or equal to ${s.maximum}.`,
      })
    if (s.minimum !== undefined && value < s.minimum)
      errors.push({
        path,
        code: 'NUMBER_TYPE_MIN',
        message: `int value should be greater than or equal to ${s.minimum}.`,
      })
  }
  if (Array.isArray(value)) {
    if (s.maxItems !== undefined && value.length > s.maxItems)
      errors.push({
        path,
        code: 'BASE_TYPE_MAX_LENGTH',
        message: `Must be ${s.maxItems} or fewer in length.`,
      })
    if (s.items)
      for (const [i, item] of value.entries()) errors.push(...validate(item, s.items, [...path, i]))
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && s.properties) {
    const obj = value as Record<string, unknown>
    for (const key of s.required ?? [])
      if (obj[key] === undefined)
        errors.push({ path: [...path, key], code: 'BASE_TYPE_REQUIRED', message: 'This field is required' })
    for (const [key, v] of Object.entries(obj)) {
      const prop = s.properties[key]
      if (!prop) {
        errors.push({
          path: [...path, key],
          code: 'STANDIN_UNKNOWN_FIELD',
          message: 'Unknown field (the stand-in refuses these).',
        })
        continue
      }
      if (v !== undefined) errors.push(...validate(v, prop, [...path, key]))
    }
  }
  return errors
}

function documentedRules(body: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = []
  const nonEmpty = (v: unknown) =>
    typeof v === 'string' ? v.length > 0 : Array.isArray(v) ? v.length > 0 : v != null
  if (!['content', 'embeds', 'components', 'attachments', 'poll'].some((k) => nonEmpty(body[k])))
    errors.push({ path: [], code: 'EMPTY_MESSAGE', message: 'Cannot send an empty message' })
  const embeds = Array.isArray(body.embeds) ? (body.embeds as Record<string, unknown>[]) : []
  let total = 0
  const len = (v: unknown) => (typeof v === 'string' ? [...v].length : 0)
  for (const [i, e] of embeds.entries()) {
    total += len(e.title) + len(e.description)
    total += len((e.footer as Record<string, unknown> | undefined)?.text)
    total += len((e.author as Record<string, unknown> | undefined)?.name)
    for (const [j, f] of ((e.fields as Record<string, unknown>[] | undefined) ?? []).entries()) {
      total += len(f.name) + len(f.value)
      for (const key of ['name', 'value'] as const)
        if (len(f[key]) === 0)
          errors.push({
            path: ['embeds', i, 'fields', j, key],
            code: 'BASE_TYPE_REQUIRED',
            message: 'This field is required',
          })
    }
  }
  if (total > DISCORD_EMBED_TOTAL)
    errors.push({
      path: ['embeds'],
      code: 'MAX_EMBED_SIZE_EXCEEDED',
      message: `Embed size exceeds maximum size of ${DISCORD_EMBED_TOTAL}`,
    })
  return errors
}

/** Discord's error layout: `{"embeds": {"0": {"title": {"_errors": [{code, message}]}}}}`. */
function nestErrors(errors: FieldError[]): Record<string, unknown> {
  const root: Record<string, unknown> = {}
  for (const e of errors) {
    let node = root
    for (const key of e.path.map(String)) {
      node[key] ??= {}
      node = node[key] as Record<string, unknown>
    }
    if (!Array.isArray(node._errors)) node._errors = []
    ;(node._errors as unknown[]).push({ code: e.code, message: e.message })
  }
  return root
}
