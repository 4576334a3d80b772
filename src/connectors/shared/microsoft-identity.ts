import { createHash } from 'node:crypto'
import { scrubSecrets } from '../../lib/redact.ts'
import { OutboundError, UnsafeUrlError } from '../../net/http-client.ts'
import { parseRetryAfter } from '../../net/retry-after.ts'
import type { ConnectorEnv } from '../types.ts'
import { fromTransport, VendorError } from '../vendor-error.ts'
import { arr, obj, str } from './json.ts'

/**
 * Microsoft identity platform, client credentials flow
 * (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow): one app, one token
 * per tenant and resource. Shared by the Microsoft 365 connector (Graph) and the CSP/GDAP onboarding (Partner
 * Center).
 */
export const DEFAULT_LOGIN_BASE = 'https://login.microsoftonline.com'
export const DEFAULT_GRAPH_BASE = 'https://graph.microsoft.com'
export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default'
export const PARTNER_CENTER_SCOPE = 'https://api.partnercenter.microsoft.com/.default'

/** Tokens are renewed this long before Microsoft says they expire, so none expires in flight. */
const EXPIRY_MARGIN_MS = 60_000

export interface AppCredentials {
  loginBase: string
  tenant: string
  clientId: string
  clientSecret: string
  scope: string
}

const ADMIN_CONSENT_FIX =
  'Grant admin consent for the app in the customer tenant: run the Microsoft 365 onboarding (CSP/GDAP wizard) ' +
  'for this customer, or have a Global Administrator of the tenant open ' +
  'https://login.microsoftonline.com/{tenant}/adminconsent?client_id={clientId}. Right after consent Microsoft ' +
  'can take a few minutes to replicate the app into the tenant: test again then.'

/**
 * What to do about the Microsoft errors that mean "the app is not (fully) consented in this tenant", by AADSTS
 * number or Graph error code (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
 */
const FIXES: Record<string, string> = {
  AADSTS700016: `The app is not present in this tenant (no consent yet, or the wrong tenant id). ${ADMIN_CONSENT_FIX}`,
  AADSTS7000229: `The app has no service principal in this tenant: consent was never granted or was removed. ${ADMIN_CONSENT_FIX}`,
  AADSTS65001: `No administrator has consented to the app's permissions in this tenant. ${ADMIN_CONSENT_FIX}`,
  AADSTS650051:
    "Consent for the app could not be completed in this tenant (the app's service principal or grant is in a " +
    'conflicting state). Remove the enterprise application from the customer tenant (Entra ID > Enterprise ' +
    `applications) and grant consent again. ${ADMIN_CONSENT_FIX}`,
  AADSTS90002: 'The tenant id or domain does not exist: check the customer tenant id.',
  AADSTS7000215: 'The client secret is wrong: create a new secret for the app in Entra ID and save it here.',
  AADSTS7000222:
    'The client secret has expired: create a new secret for the app in Entra ID (App registrations > ' +
    'Certificates & secrets) and save it here.',
  Authorization_IdentityNotFound: `Microsoft Graph does not know the app in this tenant. ${ADMIN_CONSENT_FIX}`,
  Authorization_RequestDenied:
    'The app is consented but lacks a Graph permission this call needs (User.Read.All, Group.Read.All, ' +
    'Organization.Read.All, Reports.Read.All, as application permissions): add it to the app registration and ' +
    'grant consent again in the customer tenant; with GDAP, the partner needs the Cloud Application ' +
    'Administrator role in the customer tenant to do so.',
}

/** The fix for a Microsoft error text, when it names one we know; undefined otherwise. */
export function microsoftFix(
  text: string,
  ids: { tenant?: string; clientId?: string } = {},
): string | undefined {
  const aadsts = /AADSTS(\d+)/.exec(text)?.[0]
  const code = aadsts ?? Object.keys(FIXES).find((k) => !k.startsWith('AADSTS') && text.includes(k))
  const fix = code ? FIXES[code] : undefined
  return fix
    ?.replace('{tenant}', ids.tenant ?? '{tenant}')
    .replace('{clientId}', ids.clientId ?? '{client id}')
}

/** Whether an error text means the app lacks consent in the tenant (as opposed to a wrong secret, an outage). */
export function isConsentProblem(text: string): boolean {
  return /AADSTS(700016|7000229|65001|650051)\b|Authorization_IdentityNotFound|Authorization_RequestDenied/.test(
    text,
  )
}

/** The vendor's text, verbatim, followed by what to do about it when we know. */
export function withFix(text: string, ids: { tenant?: string; clientId?: string }): string {
  const fix = microsoftFix(text, ids)
  return fix ? `${text} — How to fix: ${fix}` : text
}

/** What identifies a token in the cache: never the secret, only a digest of it, so a new secret gets a new token. */
export function tokenCacheKey(app: AppCredentials): string {
  const digest = createHash('sha256').update(app.clientSecret).digest('base64url').slice(0, 16)
  return `microsoft:${app.loginBase}|${app.tenant}|${app.clientId}|${app.scope}|${digest}`
}

export interface Token {
  token: string
  /** Came from the cache (worth dropping and fetching again on a 401). */
  cached: boolean
}

/** A token for `app`, from env.tokens while it lives, else from the token endpoint (and then cached). */
export async function getToken(env: ConnectorEnv, app: AppCredentials, vendor: string): Promise<Token> {
  const key = tokenCacheKey(app)
  const now = env.clock.now().getTime()
  const hit = await env.tokens?.get(key)
  if (hit && hit.expiresAt - EXPIRY_MARGIN_MS > now) return { token: hit.token, cached: true }
  const fresh = await requestToken(env, app, vendor)
  await env.tokens?.set(key, fresh)
  return { token: fresh.token, cached: false }
}

export async function dropToken(env: ConnectorEnv, app: AppCredentials): Promise<void> {
  await env.tokens?.drop(tokenCacheKey(app))
}

async function requestToken(
  env: ConnectorEnv,
  app: AppCredentials,
  vendor: string,
): Promise<{ token: string; expiresAt: number }> {
  const scrub = (t: string) => scrubSecrets(t, secretForms(app.clientSecret))
  const url = `${app.loginBase}/${encodeURIComponent(app.tenant)}/oauth2/v2.0/token`
  const body = new URLSearchParams({
    client_id: app.clientId,
    client_secret: app.clientSecret,
    scope: app.scope,
    grant_type: 'client_credentials',
  }).toString()
  let res: Awaited<ReturnType<ConnectorEnv['http']['request']>>
  try {
    res = await env.http.request({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body,
    })
  } catch (err) {
    if (err instanceof UnsafeUrlError)
      throw fromTransport(new VendorError(scrub(`${vendor} sign-in URL ${err.message}`)), err)
    if (err instanceof OutboundError)
      throw fromTransport(new VendorError(scrub(`${vendor} sign-in: ${err.message}`)), err)
    throw err
  }
  let parsed: unknown
  try {
    parsed = res.body ? JSON.parse(res.body) : undefined
  } catch {
    parsed = undefined
  }
  const o = obj(parsed)
  if (res.status >= 200 && res.status < 300) {
    const token = str(o?.access_token)
    const expiresIn = Number(o?.expires_in)
    if (!token || !Number.isFinite(expiresIn)) {
      throw new VendorError(`${vendor} sign-in answered without an access token`, 502)
    }
    return { token, expiresAt: env.clock.now().getTime() + expiresIn * 1000 }
  }
  // {error, error_description: "AADSTS…: … Trace ID: … Correlation ID: … Timestamp: …", error_codes: [...]}
  const description = str(o?.error_description)?.trim()
  const codes = arr(o?.error_codes)
    .map((c) => str(c))
    .filter(Boolean)
  const detail =
    description ??
    (str(o?.error) ? `${str(o?.error)}${codes.length ? ` (${codes.join(', ')})` : ''}` : undefined) ??
    res.body.slice(0, 500).trim()
  const retryAfterMs =
    res.status === 429 || res.status === 503
      ? parseRetryAfter(res.headers['retry-after'], env.clock.now())
      : undefined
  const text = `Microsoft Entra ID answered ${res.status}${detail ? `: ${detail}` : ''}`
  throw new VendorError(
    scrub(withFix(text, { tenant: app.tenant, clientId: app.clientId })),
    res.status,
    retryAfterMs,
  )
}

export function secretForms(secret: string): string[] {
  return secret.length >= 4
    ? [secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)]
    : []
}
