/**
 * The Microsoft 365 CSP/GDAP onboarding ("wizard"): the partner registers its multi-tenant app once; Patchbay
 * lists the partner's customers in Partner Center, grants the app's consent in the chosen customers' tenants
 * (https://learn.microsoft.com/partner-center/developer/control-panel-vendor-apis), and creates one Microsoft 365
 * integration per customer tenant in the Patchbay organization chosen for it, then verifies it. Every step's
 * outcome is stored (microsoft365_onboarding_customers) and audited, so a run that stopped resumes where it was.
 * Integrations are created and verified through the integration service, like every other door.
 */
import { and, eq, ne } from 'drizzle-orm'
import { arr, obj, str } from '../connectors/shared/json.ts'
import {
  type AppCredentials,
  DEFAULT_GRAPH_BASE,
  DEFAULT_LOGIN_BASE,
  dropToken,
  getToken,
  isConsentProblem,
  microsoftFix,
  PARTNER_CENTER_SCOPE,
  secretForms,
} from '../connectors/shared/microsoft-identity.ts'
import type { ConnectorEnv } from '../connectors/types.ts'
import { VendorError } from '../connectors/vendor-error.ts'
import { callVendor } from '../connectors/vendor-http.ts'
import type { AppContext } from '../context.ts'
import { type AuditContext, saveIntegration, verifyIntegrationNow } from '../integrations/service.ts'
import { connectorEnv } from '../integrations/verification.ts'
import { newId } from '../lib/ids.ts'
import { recordAudit } from '../store/audit.ts'
import type { Executor } from '../store/db.ts'
import { microsoft365OnboardingCustomers, microsoft365PartnerApps } from '../store/schema/microsoft365.ts'
import { getOrg } from '../store/tenancy.ts'
import { OnboardingError } from './errors.ts'

export const PROVIDER = 'microsoft365'
export const DEFAULT_PARTNER_CENTER_BASE = 'https://api.partnercenter.microsoft.com'
const VENDOR = 'Partner Center'
const SEAL = { table: 'microsoft365_partner_apps', field: 'client_secret' } as const
/** Microsoft Graph's enterprise application id, the resource of the app's Graph permissions. */
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000'
/** What the Microsoft 365 connector reads, as application permissions. */
export const DEFAULT_GRANTS = [
  {
    enterpriseApplicationId: GRAPH_APP_ID,
    scope: 'User.Read.All,Group.Read.All,Organization.Read.All,Reports.Read.All',
  },
]
/** Partner Center allows 50 application consent requests a second per app. */
const CONSENT_RATE = { limit: 50, windowMs: 1000 }

const GDAP_FIX =
  'Give the partner a GDAP relationship with this customer that includes the Cloud Application Administrator (or ' +
  'Application Administrator) role, assigned to the security group of the Partner Center user or app that runs ' +
  'the onboarding (Partner Center > Customers > the customer > Admin relationships), then resume the onboarding.'

export type AppRow = typeof microsoft365PartnerApps.$inferSelect
export type CustomerRow = typeof microsoft365OnboardingCustomers.$inferSelect

export { OnboardingError } from './errors.ts'

export interface AppInput {
  appId: string
  clientSecret: string
  partnerTenantId: string
  grants?: { enterpriseApplicationId: string; scope: string }[] | undefined
  loginBaseUrl?: string | undefined
  graphBaseUrl?: string | undefined
  partnerCenterBaseUrl?: string | undefined
}

export interface AppView {
  id: string
  partnerId: string
  appId: string
  partnerTenantId: string
  grants: { enterpriseApplicationId: string; scope: string }[]
  loginBaseUrl: string
  graphBaseUrl: string
  partnerCenterBaseUrl: string
  createdAt: Date
  updatedAt: Date
}

export function appView(row: AppRow): AppView {
  const { clientSecret: _sealed, ...rest } = row
  return rest
}

const trim = (u: string) => u.trim().replace(/\/+$/, '')

interface OpenApp {
  row: AppRow
  secret: string
}

function partnerCenterApp(app: OpenApp): AppCredentials {
  return {
    loginBase: app.row.loginBaseUrl,
    tenant: app.row.partnerTenantId,
    clientId: app.row.appId,
    clientSecret: app.secret,
    scope: PARTNER_CENTER_SCOPE,
  }
}

function env(ctx: AppContext): ConnectorEnv {
  return connectorEnv(ctx, PROVIDER)
}

/** Partner Center's `{code, description}` errors, verbatim. */
function partnerCenterError(body: unknown): string | undefined {
  const b = obj(body)
  const description = str(b?.description)
  if (!description) return undefined
  const code = str(b?.code)
  return code ? `${code}: ${description}` : description
}

/** One Partner Center call with the app's token; a refused cached token is dropped and fetched once more. */
async function partnerCenter<T = unknown>(
  ctx: AppContext,
  app: OpenApp,
  call: { method: 'GET' | 'POST'; path: string; body?: unknown; headers?: Record<string, string> },
): Promise<{ status: number; data: T }> {
  const e = env(ctx)
  const creds = partnerCenterApp(app)
  const send = async (token: string) =>
    callVendor<T>(e, {
      vendor: VENDOR,
      method: call.method,
      url: `${app.row.partnerCenterBaseUrl}${call.path}`,
      headers: { authorization: `Bearer ${token}`, ...call.headers },
      body: call.body,
      secrets: secretForms(app.secret),
      errorText: partnerCenterError,
    })
  const token = await getToken(e, creds, VENDOR)
  try {
    return await send(token.token)
  } catch (err) {
    if (!(err instanceof VendorError) || err.status !== 401 || !token.cached) throw err
    await dropToken(e, creds)
    return send((await getToken(e, creds, VENDOR)).token)
  }
}

function openApp(ctx: AppContext, row: AppRow): OpenApp {
  return { row, secret: ctx.vault.open(row.clientSecret, { ...SEAL, id: row.id }) }
}

async function loadApp(ctx: AppContext, partnerId: string): Promise<OpenApp> {
  const [row] = await ctx.db.orm
    .select()
    .from(microsoft365PartnerApps)
    .where(eq(microsoft365PartnerApps.partnerId, partnerId))
  if (!row) {
    throw new OnboardingError(
      'not_found',
      'Register the partner app first (PUT /api/v1/onboarding/microsoft365/app).',
    )
  }
  return openApp(ctx, row)
}

export async function getApp(ctx: AppContext, partnerId: string): Promise<AppView | undefined> {
  const [row] = await ctx.db.orm
    .select()
    .from(microsoft365PartnerApps)
    .where(eq(microsoft365PartnerApps.partnerId, partnerId))
  return row ? appView(row) : undefined
}

/**
 * Registers (or replaces) the partner's app, after proving it: a Partner Center token from the partner tenant.
 * Microsoft's refusal is a 422 on the field it concerns, in Microsoft's words.
 */
export async function registerApp(
  ctx: AppContext,
  partnerId: string,
  input: AppInput,
  audit: AuditContext,
): Promise<AppView> {
  const now = ctx.clock.now()
  const [existing] = await ctx.db.orm
    .select()
    .from(microsoft365PartnerApps)
    .where(eq(microsoft365PartnerApps.partnerId, partnerId))
  const id = existing?.id ?? newId(now.getTime())
  const row: AppRow = {
    id,
    partnerId,
    appId: input.appId.trim(),
    partnerTenantId: input.partnerTenantId.trim(),
    clientSecret: ctx.vault.seal(input.clientSecret, { ...SEAL, id }),
    grants: input.grants ?? DEFAULT_GRANTS,
    loginBaseUrl: trim(input.loginBaseUrl ?? DEFAULT_LOGIN_BASE),
    graphBaseUrl: trim(input.graphBaseUrl ?? DEFAULT_GRAPH_BASE),
    partnerCenterBaseUrl: trim(input.partnerCenterBaseUrl ?? DEFAULT_PARTNER_CENTER_BASE),
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  }
  try {
    await getToken(env(ctx), partnerCenterApp({ row, secret: input.clientSecret }), 'Partner Center')
  } catch (err) {
    if (!(err instanceof VendorError)) throw err
    const field = /AADSTS(7000215|7000222)\b/.test(err.message)
      ? 'clientSecret'
      : /AADSTS90002\b/.test(err.message)
        ? 'partnerTenantId'
        : err.status === 400 && /URL/.test(err.message)
          ? 'loginBaseUrl'
          : 'appId'
    throw new OnboardingError('invalid', err.message, field, err.status)
  }
  await ctx.db.orm.transaction(async (tx) => {
    if (existing) await tx.update(microsoft365PartnerApps).set(row).where(eq(microsoft365PartnerApps.id, id))
    else await tx.insert(microsoft365PartnerApps).values(row)
    await recordAudit(
      tx,
      {
        actor: audit.actor,
        partnerId,
        action: existing ? 'microsoft365.app.update' : 'microsoft365.app.register',
        targetType: 'microsoft365_partner_app',
        targetId: id,
        summary: {
          appId: row.appId,
          partnerTenantId: row.partnerTenantId,
          grants: row.grants,
          fields: Object.keys(input).sort(),
        },
        requestId: audit.requestId ?? null,
      },
      now,
    )
  })
  return appView(row)
}

export interface PartnerCustomer {
  customerId: string
  tenantId: string
  companyName: string
  domain: string | null
}

/** Every customer of the partner in Partner Center, following `links.next` and its continuation token. */
async function partnerCustomers(ctx: AppContext, app: OpenApp): Promise<PartnerCustomer[]> {
  const out: PartnerCustomer[] = []
  let path = '/v1/customers?size=500'
  let headers: Record<string, string> = {}
  for (let guard = 0; guard < 200; guard++) {
    const res = await partnerCenter(ctx, app, { method: 'GET', path, headers })
    const body = obj(res.data)
    for (const item of arr(body?.items)) {
      const c = obj(item)
      const profile = obj(c?.companyProfile)
      const customerId = str(c?.id)
      const tenantId = str(profile?.tenantId) ?? customerId
      if (!customerId || !tenantId) continue
      out.push({
        customerId,
        tenantId,
        companyName: str(profile?.companyName) ?? str(profile?.domain) ?? customerId,
        domain: str(profile?.domain) ?? null,
      })
    }
    const next = obj(obj(body?.links)?.next)
    const uri = str(next?.uri)
    if (!uri) break
    path = `/v1${uri.startsWith('/') ? uri : `/${uri}`}`
    headers = {}
    for (const h of arr(next?.headers)) {
      const key = str(obj(h)?.key)
      const value = str(obj(h)?.value)
      if (key && value) headers[key] = value
    }
  }
  return out
}

export interface CustomerState {
  customerId: string
  tenantId: string
  companyName: string
  domain: string | null
  orgId: string | null
  status: 'not_selected' | 'pending' | 'consented' | 'integrated' | 'verified' | 'failed'
  failedStep: string | null
  error: string | null
  fix: string | null
  integrationId: string | null
  updatedAt: Date | null
}

function stateOf(row: CustomerRow): CustomerState {
  return {
    customerId: row.customerId,
    tenantId: row.tenantId,
    companyName: row.companyName,
    domain: row.domain,
    orgId: row.orgId,
    status: row.status as CustomerState['status'],
    failedStep: row.failedStep,
    error: row.error,
    fix: row.fix,
    integrationId: row.integrationId,
    updatedAt: row.updatedAt,
  }
}

async function stateRows(db: Executor, partnerId: string): Promise<CustomerRow[]> {
  return db
    .select()
    .from(microsoft365OnboardingCustomers)
    .where(eq(microsoft365OnboardingCustomers.partnerId, partnerId))
    .orderBy(microsoft365OnboardingCustomers.companyName)
}

/** The partner's customers as Partner Center lists them, each with its onboarding state. */
export async function listCustomers(ctx: AppContext, partnerId: string): Promise<CustomerState[]> {
  const app = await loadApp(ctx, partnerId)
  const customers = await vendorCall(() => partnerCustomers(ctx, app))
  const states = new Map((await stateRows(ctx.db.orm, partnerId)).map((r) => [r.customerId, r]))
  return customers.map((c) => {
    const s = states.get(c.customerId)
    return s
      ? stateOf(s)
      : {
          ...c,
          orgId: null,
          status: 'not_selected',
          failedStep: null,
          error: null,
          fix: null,
          integrationId: null,
          updatedAt: null,
        }
  })
}

export async function onboardingState(ctx: AppContext, partnerId: string): Promise<CustomerState[]> {
  return (await stateRows(ctx.db.orm, partnerId)).map(stateOf)
}

async function vendorCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof VendorError) throw new OnboardingError('vendor', err.message, undefined, err.status)
    throw err
  }
}

/**
 * Records the chosen customers and the organization each maps to, then runs their steps. A customer chosen again
 * for another organization starts again after its consent (the consent is the tenant's, not the organization's).
 */
export async function onboardCustomers(
  ctx: AppContext,
  partnerId: string,
  choices: { customerId: string; orgId: string }[],
  audit: AuditContext,
): Promise<CustomerState[]> {
  const app = await loadApp(ctx, partnerId)
  const seen = new Set<string>()
  for (const [i, c] of choices.entries()) {
    if (seen.has(c.customerId)) {
      throw new OnboardingError('invalid', 'A customer appears twice.', `customers.${i}.customerId`)
    }
    seen.add(c.customerId)
    const org = await getOrg(ctx.db.orm, { kind: 'partner', partnerId }, c.orgId)
    if (!org)
      throw new OnboardingError('invalid', 'No such organization of this partner.', `customers.${i}.orgId`)
  }
  const known = new Map((await vendorCall(() => partnerCustomers(ctx, app))).map((c) => [c.customerId, c]))
  for (const [i, c] of choices.entries()) {
    if (!known.has(c.customerId)) {
      throw new OnboardingError(
        'invalid',
        'Partner Center lists no such customer of this partner.',
        `customers.${i}.customerId`,
      )
    }
  }
  const now = ctx.clock.now()
  await ctx.db.orm.transaction(async (tx) => {
    const current = new Map((await stateRows(tx, partnerId)).map((r) => [r.customerId, r]))
    for (const choice of choices) {
      const c = known.get(choice.customerId) as PartnerCustomer
      const before = current.get(c.customerId)
      if (before && before.orgId === choice.orgId) continue
      const consented = before && before.status !== 'pending' && before.failedStep !== 'consent'
      const row = {
        partnerId,
        customerId: c.customerId,
        tenantId: c.tenantId,
        companyName: c.companyName,
        domain: c.domain,
        orgId: choice.orgId,
        status: consented ? 'consented' : 'pending',
        failedStep: null,
        error: null,
        fix: null,
        integrationId: null,
        updatedAt: now,
      }
      if (before) {
        await tx
          .update(microsoft365OnboardingCustomers)
          .set(row)
          .where(
            and(
              eq(microsoft365OnboardingCustomers.partnerId, partnerId),
              eq(microsoft365OnboardingCustomers.customerId, c.customerId),
            ),
          )
      } else {
        await tx.insert(microsoft365OnboardingCustomers).values({ ...row, createdAt: now })
      }
      await recordAudit(
        tx,
        {
          actor: audit.actor,
          partnerId,
          orgId: choice.orgId,
          action: 'microsoft365.onboarding.select',
          targetType: 'microsoft365_customer',
          targetId: c.customerId,
          summary: { tenantId: c.tenantId, companyName: c.companyName, previousOrgId: before?.orgId ?? null },
          requestId: audit.requestId ?? null,
        },
        now,
      )
    }
  })
  return runSteps(ctx, app, partnerId, new Set(choices.map((c) => c.customerId)), audit)
}

/** Runs the remaining steps of every chosen customer not yet verified. */
export async function resumeOnboarding(
  ctx: AppContext,
  partnerId: string,
  audit: AuditContext,
): Promise<CustomerState[]> {
  const app = await loadApp(ctx, partnerId)
  return runSteps(ctx, app, partnerId, undefined, audit)
}

async function runSteps(
  ctx: AppContext,
  app: OpenApp,
  partnerId: string,
  only: Set<string> | undefined,
  audit: AuditContext,
): Promise<CustomerState[]> {
  const todo = await ctx.db.orm
    .select()
    .from(microsoft365OnboardingCustomers)
    .where(
      and(
        eq(microsoft365OnboardingCustomers.partnerId, partnerId),
        ne(microsoft365OnboardingCustomers.status, 'verified'),
      ),
    )
    .orderBy(microsoft365OnboardingCustomers.companyName)
  for (const row of todo) {
    if (only && !only.has(row.customerId)) continue
    await runCustomer(ctx, app, row, audit)
  }
  return onboardingState(ctx, partnerId)
}

/** The step a customer is at: a failed one is tried again, others go on from their status. */
function stepOf(row: CustomerRow): 'consent' | 'integration' | 'verify' | undefined {
  if (row.status === 'failed') return (row.failedStep as 'consent' | 'integration' | 'verify') ?? 'consent'
  if (row.status === 'pending') return 'consent'
  if (row.status === 'consented') return 'integration'
  if (row.status === 'integrated') return 'verify'
  return undefined
}

async function record(
  ctx: AppContext,
  row: CustomerRow,
  set: Partial<CustomerRow>,
  audit: AuditContext,
  action: string,
  summary: Record<string, unknown>,
): Promise<CustomerRow> {
  const now = ctx.clock.now()
  return ctx.db.orm.transaction(async (tx) => {
    const [updated] = await tx
      .update(microsoft365OnboardingCustomers)
      .set({ ...set, attempts: row.attempts + 1, updatedAt: now })
      .where(
        and(
          eq(microsoft365OnboardingCustomers.partnerId, row.partnerId),
          eq(microsoft365OnboardingCustomers.customerId, row.customerId),
        ),
      )
      .returning()
    await recordAudit(
      tx,
      {
        actor: audit.actor,
        partnerId: row.partnerId,
        orgId: row.orgId,
        action,
        targetType: 'microsoft365_customer',
        targetId: row.customerId,
        summary: { tenantId: row.tenantId, ...summary },
        requestId: audit.requestId ?? null,
      },
      now,
    )
    return updated as CustomerRow
  })
}

const ok = { failedStep: null, error: null, fix: null }

async function runCustomer(
  ctx: AppContext,
  app: OpenApp,
  start: CustomerRow,
  audit: AuditContext,
): Promise<void> {
  let row = start
  for (let step = stepOf(row); step; step = stepOf(row)) {
    const before = row.status
    if (step === 'consent') row = await consentStep(ctx, app, row, audit)
    else if (step === 'integration') row = await integrationStep(ctx, app, row, audit)
    else row = await verifyStep(ctx, app, row, audit)
    if (row.status === 'failed' || row.status === before) return
  }
}

async function consentStep(
  ctx: AppContext,
  app: OpenApp,
  row: CustomerRow,
  audit: AuditContext,
): Promise<CustomerRow> {
  const action = 'microsoft365.onboarding.consent'
  try {
    await pace(ctx, app.row.appId)
    await partnerCenter(ctx, app, {
      method: 'POST',
      path: `/v1/customers/${encodeURIComponent(row.customerId)}/applicationconsents`,
      body: {
        applicationId: app.row.appId,
        applicationGrants: app.row.grants,
        displayName: 'Patchbay',
      },
    })
    return record(ctx, row, { status: 'consented', ...ok }, audit, action, { outcome: 'granted' })
  } catch (err) {
    if (!(err instanceof VendorError)) throw err
    // Partner Center answers 409 when the app already holds a consent in the tenant: nothing left to grant.
    if (err.status === 409) {
      return record(ctx, row, { status: 'consented', ...ok }, audit, action, { outcome: 'already_granted' })
    }
    const fix =
      err.status === 403
        ? GDAP_FIX
        : err.status === 429 || err.status === 503
          ? `Partner Center is limiting requests${err.retryAfterMs !== undefined ? ` (Retry-After ${Math.ceil(err.retryAfterMs / 1000)} s)` : ''}: resume the onboarding after that.`
          : (microsoftFix(err.message, { tenant: row.tenantId, clientId: app.row.appId }) ??
            'Check the app registration and the customer in Partner Center, then resume the onboarding.')
    return record(
      ctx,
      row,
      { status: 'failed', failedStep: 'consent', error: err.message, fix },
      audit,
      action,
      { outcome: 'failed', error: err.message, httpStatus: err.status ?? null },
    )
  }
}

async function integrationStep(
  ctx: AppContext,
  app: OpenApp,
  row: CustomerRow,
  audit: AuditContext,
): Promise<CustomerRow> {
  const action = 'microsoft365.onboarding.integration'
  try {
    const { integration } = await saveIntegration(
      ctx,
      row.orgId,
      {
        provider: PROVIDER,
        name: `Microsoft 365 – ${row.domain ?? row.tenantId}`,
        credentials: {
          tenantId: row.tenantId,
          clientId: app.row.appId,
          clientSecret: app.secret,
          loginBaseUrl: app.row.loginBaseUrl,
          baseUrl: app.row.graphBaseUrl,
        },
        metadata: { partnerCenterCustomerId: row.customerId, companyName: row.companyName },
      },
      audit,
    )
    return record(ctx, row, { status: 'integrated', integrationId: integration.id, ...ok }, audit, action, {
      integrationId: integration.id,
    })
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    return record(
      ctx,
      row,
      {
        status: 'failed',
        failedStep: 'integration',
        error: message,
        fix: 'Fix what the message names (for example another integration with the same name), then resume.',
      },
      audit,
      action,
      { outcome: 'failed', error: message },
    )
  }
}

async function verifyStep(
  ctx: AppContext,
  app: OpenApp,
  row: CustomerRow,
  audit: AuditContext,
): Promise<CustomerRow> {
  const action = 'microsoft365.onboarding.verify'
  if (!row.integrationId) return record(ctx, row, { status: 'consented', ...ok }, audit, action, {})
  const { outcome } = await verifyIntegrationNow(
    ctx,
    { kind: 'org', orgId: row.orgId },
    row.integrationId,
    audit,
  )
  if (outcome.ok) {
    return record(ctx, row, { status: 'verified', ...ok }, audit, action, {
      outcome: 'verified',
      account: outcome.account ?? null,
    })
  }
  const error = outcome.error ?? 'verification failed'
  const fix =
    microsoftFix(error, { tenant: row.tenantId, clientId: app.row.appId }) ??
    (isConsentProblem(error) ? GDAP_FIX : 'Resume the onboarding once Microsoft answers again.')
  return record(ctx, row, { status: 'failed', failedStep: 'verify', error, fix }, audit, action, {
    outcome: 'failed',
    error,
  })
}

/** Local pacing under Partner Center's 50 consents a second per app, when no shared budget is configured. */
const recent = new Map<string, number[]>()

async function pace(ctx: AppContext, appId: string): Promise<void> {
  const e = env(ctx)
  let waitMs = 0
  if (e.budget) {
    waitMs = await e.budget.take(`partnercenter:${appId}`, CONSENT_RATE.limit, CONSENT_RATE.windowMs)
  } else {
    const now = ctx.clock.now().getTime()
    const times = (recent.get(appId) ?? []).filter((t) => t > now - CONSENT_RATE.windowMs)
    if (times.length >= CONSENT_RATE.limit) waitMs = (times[0] as number) + CONSENT_RATE.windowMs - now
    times.push(now + waitMs)
    recent.set(appId, times)
  }
  if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs))
}
