/**
 * A stand-in for the Partner Center REST API (https://learn.microsoft.com/partner-center/developer/), the calls
 * the CSP/GDAP onboarding makes, over the directory shared with microsoft-login.ts:
 *
 *   const pc = await startPartnerCenter(dir, { appId, partnerTenant })   // pc.baseUrl = http://partnercenter.test:<port>
 *   pc.addCustomer(tenant, { gdapRoles: ['Cloud Application Administrator'] })
 *   pc.failNext({ status: 429, retryAfter: 2 })
 *
 * - `GET /v1/customers?size=n` (https://learn.microsoft.com/partner-center/developer/get-a-list-of-customers):
 *   `{totalCount, items: [{id, companyProfile: {tenantId, domain, companyName}, relationshipToPartner,
 *   attributes}], links: {self, next?: {uri, method, headers: [{key: "MS-ContinuationToken", value}]}},
 *   attributes: {objectType: "Collection"}}`; the next page is the `next` uri with the continuation header.
 * - `POST /v1/customers/{id}/applicationconsents` {applicationId, applicationGrants: [{enterpriseApplicationId,
 *   scope}]} (https://learn.microsoft.com/partner-center/developer/control-panel-vendor-apis): 201 with the
 *   consent; the app's service principal then exists in the customer tenant with the granted Graph permissions.
 *   An existing consent is 409; a customer whose GDAP relationship gives the partner no Cloud Application
 *   Administrator (or Application Administrator) role 403; more than 50 requests a second for one app 429 with
 *   Retry-After. Errors are Partner Center's `{code, description, data, source}`.
 * - Every call needs a token for https://api.partnercenter.microsoft.com from the partner's own tenant.
 */
import { randomUUID } from 'node:crypto'
import { type RecordedRequest, type Reply, type StandIn, startStandIn } from '../fixtures/stand-in.ts'
import {
  type MicrosoftDirectory,
  type MsTenant,
  PARTNER_CENTER_RESOURCE,
  tokenOf,
} from './microsoft-login.ts'

const GRAPH_APP = '00000003-0000-0000-c000-000000000000'
const CONSENT_ROLES = ['Cloud Application Administrator', 'Application Administrator']

export interface PartnerCenterCustomer {
  id: string
  tenant: MsTenant
  gdapRoles: string[]
}

export interface PartnerCenterStandIn {
  baseUrl: string
  server: StandIn
  customers: PartnerCenterCustomer[]
  /** Consents granted, in order. */
  consents: { customerId: string; applicationId: string; scope: string }[]
  addCustomer(tenant: MsTenant, opts?: { gdapRoles?: string[] }): PartnerCenterCustomer
  failNext(f: { status: number; retryAfter?: number }): void
  close(): Promise<void>
}

export async function startPartnerCenter(
  dir: MicrosoftDirectory,
  opts: { partnerTenant: string; pageSize?: number },
): Promise<PartnerCenterStandIn> {
  const customers: PartnerCenterCustomer[] = []
  const consents: PartnerCenterStandIn['consents'] = []
  const failures: { status: number; retryAfter?: number }[] = []
  const perSecond = new Map<string, number>()
  const error = (
    status: number,
    code: number,
    description: string,
    headers: Record<string, string> = {},
  ): Reply => ({
    status,
    headers: { 'ms-correlationid': randomUUID(), 'ms-requestid': randomUUID(), ...headers },
    body: { code, description, data: [], source: 'PartnerFD' },
  })
  const view = (c: PartnerCenterCustomer) => ({
    id: c.id,
    commerceId: randomUUID(),
    companyProfile: {
      tenantId: c.tenant.id,
      domain: c.tenant.domain,
      companyName: c.tenant.name,
      attributes: { objectType: 'CustomerCompanyProfile' },
    },
    relationshipToPartner: 'reseller',
    attributes: { objectType: 'Customer' },
  })

  const handle = (req: RecordedRequest): Reply => {
    const failure = failures.shift()
    if (failure) {
      return error(
        failure.status,
        failure.status,
        failure.status === 429 ? 'Rate limit is exceeded.' : 'Service unavailable.',
        failure.retryAfter !== undefined ? { 'retry-after': String(failure.retryAfter) } : {},
      )
    }
    const token = tokenOf(dir, req, PARTNER_CENTER_RESOURCE)
    if ('problem' in token || token.tenant !== opts.partnerTenant) {
      return error(
        401,
        401,
        'Unauthorized: Invalid Authorization header. The token is missing, expired or not for the partner tenant.',
      )
    }
    const u = new URL(req.path, 'http://partnercenter.test')
    if (req.method === 'GET' && u.pathname === '/v1/customers') {
      // The stand-in's page cap (`pageSize`) wins over a larger `size`, so paging shows with a few customers.
      const size = Math.min(Number(u.searchParams.get('size') ?? 500), opts.pageSize ?? 500)
      const cont = req.headers['ms-continuationtoken']
      const skip = cont ? Number(Buffer.from(String(cont), 'base64url').toString()) : 0
      const items = customers.slice(skip, skip + size).map(view)
      const links: Record<string, unknown> = {
        self: { uri: `/customers?size=${size}`, method: 'GET', headers: [] },
      }
      if (skip + size < customers.length) {
        links.next = {
          uri: `/customers?size=${size}`,
          method: 'GET',
          headers: [
            { key: 'MS-ContinuationToken', value: Buffer.from(String(skip + size)).toString('base64url') },
          ],
        }
      }
      return {
        status: 200,
        body: { totalCount: items.length, items, links, attributes: { objectType: 'Collection' } },
      }
    }
    const m = /^\/v1\/customers\/([^/]+)\/applicationconsents$/.exec(u.pathname)
    if (req.method === 'POST' && m) {
      const second = `${token.appId}@${Math.floor(dir.clock.now().getTime() / 1000)}`
      const n = (perSecond.get(second) ?? 0) + 1
      perSecond.set(second, n)
      if (n > 50)
        return error(429, 429, 'Rate limit is exceeded. Try again in 1 seconds.', { 'retry-after': '1' })
      const customer = customers.find((c) => c.id === m[1])
      if (!customer) return error(404, 600039, `Customer ${m[1]} was not found.`)
      const body = req.json as
        | {
            applicationId?: string
            applicationGrants?: { enterpriseApplicationId?: string; scope?: string }[]
          }
        | undefined
      const grants = body?.applicationGrants
      if (
        !body?.applicationId ||
        !Array.isArray(grants) ||
        grants.length === 0 ||
        grants.some((g) => !g.enterpriseApplicationId || !g.scope)
      ) {
        return error(
          400,
          600004,
          'The request body is invalid: applicationId and applicationGrants (enterpriseApplicationId, scope) are required.',
        )
      }
      if (body.applicationId !== token.appId) {
        return error(403, 403, 'The applicationId must be the application the access token was issued to.')
      }
      if (!customer.gdapRoles.some((r) => CONSENT_ROLES.includes(r))) {
        return error(
          403,
          403,
          'Permission denied. The partner has no active GDAP relationship with the Cloud Application Administrator or Application Administrator role for this customer.',
        )
      }
      if (customer.tenant.consents.has(body.applicationId))
        return error(409, 409, 'Permission entry already exists.')
      const graphScopes = grants
        .filter((g) => g.enterpriseApplicationId === GRAPH_APP)
        .flatMap((g) => (g.scope as string).split(',').map((s) => s.trim()))
      customer.tenant.consents.set(body.applicationId, graphScopes)
      for (const g of grants)
        consents.push({
          customerId: customer.id,
          applicationId: body.applicationId,
          scope: g.scope as string,
        })
      return {
        status: 201,
        body: { applicationId: body.applicationId, applicationGrants: grants, customerId: customer.id },
      }
    }
    return error(404, 404, `No route for ${req.method} ${u.pathname}.`)
  }
  const server = await startStandIn(handle)
  return {
    baseUrl: server.url('partnercenter.test'),
    server,
    customers,
    consents,
    addCustomer(tenant, o = {}) {
      // Partner Center's customer id is the customer's tenant id.
      const c = { id: tenant.id, tenant, gdapRoles: o.gdapRoles ?? ['Cloud Application Administrator'] }
      customers.push(c)
      return c
    },
    failNext: (f) => failures.push(f),
    close: () => server.close(),
  }
}
