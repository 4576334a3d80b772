import type { z } from 'zod'
import { scrubSecrets } from '../../lib/redact.ts'
import { OutboundError, type OutboundResponse, UnsafeUrlError } from '../../net/http-client.ts'
import { parseRetryAfter } from '../../net/retry-after.ts'
import type { CredentialSchema } from '../../vault/mask.ts'
import { credentialParser, missingCredential } from '../define.ts'
import type { ConnectorEnv } from '../env.ts'
import { fromTransport, VendorError } from '../vendor-error.ts'
import { obj, str } from './json.ts'
import {
  type AppCredentials,
  DEFAULT_GRAPH_BASE,
  DEFAULT_LOGIN_BASE,
  dropToken,
  GRAPH_SCOPE,
  getToken,
  secretForms,
  withFix,
} from './microsoft-identity.ts'

/**
 * Calls to Microsoft Graph v1.0 with a customer tenant's app credentials (the `microsoft365` credential schema):
 * the Microsoft 365 connector reads through them, and the Graph inbound module (msgraph) registers
 * change-notification subscriptions through them, so both vendors' folders share this one client.
 */
const VENDOR = 'Microsoft Graph'

/**
 * The `microsoft365` credential schema. It lives here, beside the client that reads it, because two folders take
 * these credentials: the Microsoft 365 connector and the Graph inbound module (msgraph), which registers
 * subscriptions with a linked `microsoft365` integration's credentials and may not import another vendor's folder.
 */
export const graphCredentialSchema = {
  tenantId: {
    type: 'string',
    sensitive: false,
    destination: true,
    required: true,
    pattern: '^[A-Za-z0-9][A-Za-z0-9.-]*$',
    description:
      "The customer's tenant: its directory (tenant) id, or a verified domain such as contoso.onmicrosoft.com.",
  },
  clientId: {
    type: 'string',
    sensitive: false,
    required: true,
    pattern: '^[0-9a-fA-F-]{36}$',
    description: "The partner's multi-tenant app: its Application (client) id in Entra ID.",
  },
  clientSecret: {
    type: 'string',
    sensitive: true,
    required: true,
    description: "A client secret of the partner's app (App registrations > Certificates & secrets).",
  },
  loginBaseUrl: {
    type: 'url',
    sensitive: false,
    destination: true,
    required: false,
    default: DEFAULT_LOGIN_BASE,
    description: 'The Microsoft identity platform host (national clouds, a test stand-in).',
  },
  baseUrl: {
    type: 'url',
    sensitive: false,
    destination: true,
    required: false,
    default: DEFAULT_GRAPH_BASE,
    description: 'The Microsoft Graph host (national clouds, a proxy, a test stand-in).',
  },
} satisfies CredentialSchema

/**
 * The stored credentials as both read them, parsed once at their edge (define.ts). A missing field is named as the
 * Graph client always named it: `Microsoft Graph: the connection has no "tenantId"` (400); the field list's order
 * (tenantId, clientId, clientSecret) is the order it checked them in.
 */
export const graphCredentials = credentialParser(graphCredentialSchema, missingCredential(VENDOR))
export type GraphCredentials = z.infer<typeof graphCredentials.schema>

export function trimBase(v: string | undefined, fallback: string): string {
  return (v ?? fallback).replace(/\/+$/, '')
}

export function appOf(creds: GraphCredentials): AppCredentials {
  return {
    loginBase: trimBase(creds.loginBaseUrl, DEFAULT_LOGIN_BASE),
    tenant: creds.tenantId,
    clientId: creds.clientId,
    clientSecret: creds.clientSecret,
    scope: GRAPH_SCOPE,
  }
}

export function graphBase(creds: GraphCredentials): string {
  return trimBase(creds.baseUrl, DEFAULT_GRAPH_BASE)
}

export interface GraphAnswer {
  status: number
  headers: Record<string, string>
  body: string
  data: unknown
}

/**
 * One GET at Graph with the tenant's token: a 401 on a cached token signs in again once; a redirect (the reports'
 * download URL, pre-authenticated) is followed once without the token; any other non-2xx is a VendorError with
 * Graph's `{error: {code, message}}` verbatim and the fix when it is a consent problem.
 */
export async function graphGet(
  creds: GraphCredentials,
  env: ConnectorEnv,
  url: string,
  write?: { method: 'POST' | 'PATCH' | 'DELETE'; body?: unknown },
): Promise<GraphAnswer> {
  const app = appOf(creds)
  const scrub = (t: string) => scrubSecrets(t, secretForms(app.clientSecret))
  const send = async (target: string, token?: string): Promise<OutboundResponse> => {
    try {
      return await env.http.request({
        method: write?.method ?? 'GET',
        url: target,
        headers: {
          accept: 'application/json',
          ...(write?.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        ...(write?.body !== undefined ? { body: JSON.stringify(write.body) } : {}),
        keepResponseChars: 16 * 1_048_576,
        maxResponseBytes: 64 * 1_048_576,
      })
    } catch (err) {
      if (err instanceof UnsafeUrlError)
        throw fromTransport(new VendorError(scrub(`${VENDOR} URL ${err.message}`)), err)
      if (err instanceof OutboundError)
        throw fromTransport(new VendorError(scrub(`${VENDOR}: ${err.message}`)), err)
      throw err
    }
  }
  let token = await getToken(env, app, VENDOR)
  let res = await send(url, token.token)
  if (res.status === 401 && token.cached) {
    await dropToken(env, app)
    token = await getToken(env, app, VENDOR)
    res = await send(url, token.token)
  }
  if (!write && res.status >= 300 && res.status < 400 && res.headers.location) {
    res = await send(new URL(res.headers.location, url).toString())
  }
  const data = parse(res)
  if (res.status >= 200 && res.status < 300) return { ...res, data }
  if (res.status === 401) await dropToken(env, app)
  const e = obj(obj(data)?.error)
  const code = str(e?.code)
  const message = str(e?.message)
  const detail = code || message ? [code, message].filter(Boolean).join(': ') : res.body.slice(0, 500).trim()
  const retryAfterMs =
    res.status === 429 || res.status === 503
      ? parseRetryAfter(res.headers['retry-after'], env.clock.now())
      : undefined
  const text = `${VENDOR} answered ${res.status}${detail ? `: ${detail}` : ''}`
  throw new VendorError(
    scrub(withFix(text, { tenant: app.tenant, clientId: app.clientId })),
    res.status,
    retryAfterMs,
  )
}

/**
 * A write at Graph (`POST /subscriptions`, …) with the tenant's token, `path` under /v1.0; errors as graphGet's.
 * For the Graph inbound module, which registers change-notification subscriptions with these credentials.
 */
export function graphWrite(
  creds: GraphCredentials,
  env: ConnectorEnv,
  method: 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<GraphAnswer> {
  return graphGet(creds, env, url(creds, path), { method, body })
}

export function parse(res: OutboundResponse): unknown {
  const type = res.headers['content-type'] ?? ''
  if (!res.body) return undefined
  if (type.includes('json') || /^[[{]/.test(res.body.trimStart())) {
    try {
      return JSON.parse(res.body)
    } catch {
      return res.body
    }
  }
  return res.body
}

export function url(
  creds: GraphCredentials,
  path: string,
  query: Record<string, string | number> = {},
): string {
  const q = Object.entries(query)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
    .join('&')
  return `${graphBase(creds)}/v1.0${path}${q ? `?${q}` : ''}`
}
