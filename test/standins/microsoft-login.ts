/**
 * A stand-in for the Microsoft identity platform's token endpoint (client credentials,
 * https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow), sharing one directory
 * of tenants and apps with the Graph and Partner Center stand-ins (graph.ts, partner-center.ts).
 *
 *   const dir = new MicrosoftDirectory(clock)
 *   dir.addApp({ appId, secret, homeTenant: partnerTenantId })
 *   dir.addTenant({ id, domain, name, consents: { [appId]: ['User.Read.All', …] } })
 *   const login = await startMicrosoftLogin(dir)   // login.baseUrl = http://login.test:<port>
 *   login.failNext({ status: 503, retryAfter: 7 })
 *
 * `POST /{tenant}/oauth2/v2.0/token` (form body) answers as Entra ID does: 200 `{token_type, expires_in,
 * ext_expires_in, access_token}`; errors `{error, error_description: "AADSTSn: … Trace ID: … Correlation ID: …
 * Timestamp: …", error_codes: [n], timestamp, trace_id, correlation_id, error_uri}`
 * (https://learn.microsoft.com/entra/identity-platform/reference-error-codes):
 * unknown tenant 400 invalid_request AADSTS90002; unknown app 400 unauthorized_client AADSTS700016; a wrong secret
 * 401 invalid_client AADSTS7000215; an app known elsewhere but not consented in the tenant 401 invalid_client
 * AADSTS7000229 (missing service principal); a grant other than client_credentials 400 AADSTS70003; a scope that
 * is not `<resource>/.default` of a known resource 400 invalid_scope AADSTS1002012; Partner Center tokens only in
 * the app's home (partner) tenant, else 400 invalid_resource AADSTS500011.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type { Clock } from '../../src/lib/clock.ts'
import { type RecordedRequest, type Reply, type StandIn, startStandIn } from '../fixtures/stand-in.ts'

export const GRAPH_RESOURCE = 'https://graph.microsoft.com'
export const PARTNER_CENTER_RESOURCE = 'https://api.partnercenter.microsoft.com'

export interface MsApp {
  appId: string
  secret: string
  homeTenant: string
}

export interface MsUser {
  id: string
  displayName: string
  userPrincipalName: string
  mail: string | null
  accountEnabled: boolean
  assignedLicenses: { skuId: string; disabledPlans: string[] }[]
  mailNickname?: string
  /** Two-letter country code; Graph refuses to assign a license to a user without one. */
  usageLocation?: string | null
  /** Kept as Graph keeps it and never returned (Graph answers `passwordProfile: null`). */
  passwordProfile?: { password: string; forceChangePasswordNextSignIn: boolean }
  /** Moved to now by revokeSignInSessions. */
  signInSessionsValidFromDateTime?: string
}

export interface MsSku {
  skuId: string
  skuPartNumber: string
  capabilityStatus: string
  consumedUnits: number
  prepaidUnits: { enabled: number; suspended: number; warning: number; lockedOut: number }
}

export interface MsMailbox {
  userPrincipalName: string
  displayName: string
  lastActivityDate: string
  itemCount: number
  storageUsedInBytes: number
}

export interface MsTenant {
  id: string
  domain: string
  name: string
  /** App id → the Graph application permissions granted in this tenant (its service principal exists). */
  consents: Map<string, string[]>
  users: MsUser[]
  groups: {
    id: string
    displayName: string
    mail: string | null
    groupTypes: string[]
    securityEnabled: boolean
    mailEnabled: boolean
    description: string | null
  }[]
  skus: MsSku[]
  mailboxes: MsMailbox[]
}

export interface IssuedToken {
  tenant: string
  appId: string
  resource: string
  expiresAt: number
}

/** The directory every Microsoft stand-in reads: tenants, apps, issued tokens. */
export class MicrosoftDirectory {
  readonly tenants = new Map<string, MsTenant>()
  readonly apps = new Map<string, MsApp>()
  readonly tokens = new Map<string, IssuedToken>()
  /** Seconds a token lives (Entra ID: 3599 by default). */
  tokenLifetime = 3599
  constructor(readonly clock: Clock) {}

  addApp(app: MsApp): MsApp {
    this.apps.set(app.appId, app)
    return app
  }

  addTenant(t: Partial<MsTenant> & { id: string; domain: string; name: string }): MsTenant {
    const tenant: MsTenant = {
      consents: new Map(),
      users: [],
      groups: [],
      skus: [],
      mailboxes: [],
      ...t,
    }
    this.tenants.set(tenant.id, tenant)
    return tenant
  }

  tenant(idOrDomain: string): MsTenant | undefined {
    const key = idOrDomain.toLowerCase()
    return [...this.tenants.values()].find((t) => t.id === key || t.domain.toLowerCase() === key)
  }

  /** Expires every token issued so far (as time passing would), without moving the clock. */
  expireTokens(): void {
    for (const t of this.tokens.values()) t.expiresAt = 0
  }
}

export interface MicrosoftLoginStandIn {
  baseUrl: string
  server: StandIn
  /** Token requests, in order: tenant, client id and scope (never the secret). */
  issued: { tenant: string; clientId: string; scope: string; ok: boolean }[]
  failNext(f: { status: number; retryAfter?: number }): void
  close(): Promise<void>
}

export function aadError(status: number, error: string, code: number, message: string, now: Date): Reply {
  const traceId = randomUUID()
  const correlationId = randomUUID()
  const stamp = now
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z')
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${message} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${stamp}`,
      error_codes: [code],
      timestamp: stamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  }
}

export async function startMicrosoftLogin(dir: MicrosoftDirectory): Promise<MicrosoftLoginStandIn> {
  const failures: { status: number; retryAfter?: number }[] = []
  const issued: MicrosoftLoginStandIn['issued'] = []
  const handle = (req: RecordedRequest): Reply => {
    const now = dir.clock.now()
    const m = /^\/([^/?]+)\/oauth2\/v2\.0\/token$/.exec(req.path)
    if (!m || req.method !== 'POST') return { status: 404, body: '' }
    const failure = failures.shift()
    if (failure) {
      return {
        ...aadError(
          failure.status,
          'temporarily_unavailable',
          90033,
          'A transient error has occurred. Please try again.',
          now,
        ),
        headers: failure.retryAfter !== undefined ? { 'retry-after': String(failure.retryAfter) } : {},
      }
    }
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return aadError(
        400,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'grant_type'.",
        now,
      )
    }
    const form = new URLSearchParams(req.body)
    const tenantKey = decodeURIComponent(m[1] as string)
    const clientId = form.get('client_id') ?? ''
    const scope = form.get('scope') ?? ''
    const record = (ok: boolean) => issued.push({ tenant: tenantKey, clientId, scope, ok })
    const tenant = dir.tenant(tenantKey)
    if (!tenant) {
      record(false)
      return aadError(
        400,
        'invalid_request',
        90002,
        `Tenant '${tenantKey}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
        now,
      )
    }
    if (form.get('grant_type') !== 'client_credentials') {
      record(false)
      return aadError(
        400,
        'unsupported_grant_type',
        70003,
        'The app requested an unsupported grant type.',
        now,
      )
    }
    const app = dir.apps.get(clientId)
    if (!app) {
      record(false)
      return aadError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant.name}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
        now,
      )
    }
    if (form.get('client_secret') !== app.secret) {
      record(false)
      return aadError(
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
        now,
      )
    }
    const home = tenant.id === app.homeTenant
    if (!home && !tenant.consents.has(clientId)) {
      record(false)
      return aadError(
        401,
        'invalid_client',
        7000229,
        `The client application ${clientId} is missing service principal in the tenant ${tenant.id}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119`,
        now,
      )
    }
    const resource = scope.endsWith('/.default') ? scope.slice(0, -'/.default'.length) : undefined
    if (resource !== GRAPH_RESOURCE && resource !== PARTNER_CENTER_RESOURCE) {
      record(false)
      return aadError(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
        now,
      )
    }
    if (resource === PARTNER_CENTER_RESOURCE && !home) {
      record(false)
      return aadError(
        400,
        'invalid_resource',
        500011,
        `The resource principal named ${PARTNER_CENTER_RESOURCE} was not found in the tenant named ${tenant.name}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
        now,
      )
    }
    const token = randomBytes(24).toString('base64url')
    dir.tokens.set(token, {
      tenant: tenant.id,
      appId: clientId,
      resource,
      expiresAt: now.getTime() + dir.tokenLifetime * 1000,
    })
    record(true)
    return {
      status: 200,
      body: {
        token_type: 'Bearer',
        expires_in: dir.tokenLifetime,
        ext_expires_in: dir.tokenLifetime,
        access_token: token,
      },
    }
  }
  const server = await startStandIn(handle)
  return {
    baseUrl: server.url('login.test'),
    server,
    issued,
    failNext: (f) => failures.push(f),
    close: () => server.close(),
  }
}

/** The issued token a request carries, when it is one for `resource` that has not expired; else why not. */
export function tokenOf(
  dir: MicrosoftDirectory,
  req: RecordedRequest,
  resource: string,
): IssuedToken | { problem: string } {
  const m = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))
  if (!m) return { problem: 'Access token is empty.' }
  const t = dir.tokens.get(m[1] as string)
  if (!t || t.resource !== resource) return { problem: 'Invalid audience.' }
  if (t.expiresAt <= dir.clock.now().getTime())
    return { problem: 'Lifetime validation failed, the token is expired.' }
  return t
}
