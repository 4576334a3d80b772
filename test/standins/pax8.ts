/**
 * Pax8 partner API stand-in, after Pax8's OpenAPI documents (Authentication 1.0.0 and Partner Endpoints 1.0.0,
 * https://devx.pax8.com/docs).
 *
 * Checks: `POST /v1/token` takes JSON `{client_id, client_secret, audience: "https://api.pax8.com", grant_type:
 * "client_credentials"}` and answers `{access_token, expires_in: 86400, token_type: "Bearer"}`, or 401
 * `{error: "access_denied", error_description: "Unauthorized"}`; every other call needs `Authorization: Bearer
 * <token>` with a token this stand-in issued that has not expired by the stand-in's clock (else 401 in Pax8's
 * `{type, message, instance, status}` error shape). Lists take `page` (from 0) and `size` (1..200, default 10)
 * and only the query parameters the document lists, and answer `{content, page: {size, totalElements,
 * totalPages, number}}`; subscription history answers `{content}` without paging, 404 for an unknown id.
 *
 * Writes (Partner Endpoints): `POST /v1/orders` checks companyId (an active company), lineItems (at least one;
 * each a known productId, a whole quantity ≥ 1, a billingTerm from the document's enum, a lineItemNumber) and
 * answers 422 `{type, message: "Invalid order", details: [{message}]}` otherwise; with `isMock=true` it only
 * validates (nothing is stored) and answers the order as it would be; without, it stores the order and an
 * `Active` subscription per line item. `PUT /v1/subscriptions/{id}` needs one of price, billingTerm, quantity,
 * startDate (422 otherwise; 404 unknown); `DELETE /v1/subscriptions/{id}[?cancelDate]` → 204, status `Cancelled`
 * (`PendingCancel` with a future date); `GET /v1/subscriptions/{id}`.
 *
 * API for tests:
 *   const pax8 = await new Pax8StandIn({ clock }).start()
 *   pax8.credentials                 // clientId, clientSecret, baseUrl
 *   pax8.raw.companies / products / orders / subscriptions / history   // Pax8-shaped records, mutable
 *   pax8.tokensIssued                // how many tokens /v1/token has handed out
 *   pax8.revokeTokens()              // every issued token is refused from now on (as after a rotation)
 *   pax8.failNext(429, { retryAfter: 30, path: '/v1/companies' })
 */
import type { Json } from '../../src/connectors/shared/json.ts'
import { objectBody, type RecordedRequest, type Reply, StandIn, type StandInOptions } from './standin.ts'

const DEFAULT_CREDENTIALS = {
  clientId: 'pax8-client-7Hq2Lm',
  clientSecret: 'pax8-secret-Zt4wQ9xK2vB8nR6c',
}
const TOKEN_LIFETIME_S = 86_400

const LIST_PARAMS: Record<string, readonly string[]> = {
  '/v1/companies': [
    'page',
    'size',
    'sort',
    'city',
    'country',
    'stateOrProvince',
    'postalCode',
    'selfServiceAllowed',
    'billOnBehalfOfEnabled',
    'orderApprovalRequired',
    'status',
  ],
  '/v1/products': ['page', 'size', 'sort', 'search', 'vendorName'],
  '/v1/orders': ['page', 'size', 'companyId'],
  '/v1/subscriptions': ['page', 'size', 'sort', 'status', 'billingTerm', 'companyId', 'productId'],
}

function uuid(prefix: number, n: number): string {
  const hex = (prefix * 1_000_000 + n).toString(16).padStart(12, '0')
  return `0000${prefix}0${n.toString(16).padStart(2, '0')}-0000-4000-8000-${hex}`
}

export class Pax8StandIn extends StandIn {
  readonly vendor = 'pax8'
  tokensIssued = 0
  readonly raw: {
    companies: Json[]
    products: Json[]
    orders: Json[]
    subscriptions: Json[]
    history: Record<string, Json[]>
  }
  #tokens = new Map<string, number>()
  #credentials: { clientId: string; clientSecret: string }

  constructor(opts: StandInOptions & { credentials?: { clientId: string; clientSecret: string } } = {}) {
    super(opts)
    this.#credentials = opts.credentials ?? DEFAULT_CREDENTIALS
    const companies = Array.from({ length: 5 }, (_, i) => ({
      id: uuid(1, i + 1),
      name: `Customer ${i + 1}`,
      address: { street: `${i + 1} Main St`, city: 'Denver', postalCode: '80202', country: 'US' },
      website: `customer${i + 1}.example.com`,
      status: i === 4 ? 'Inactive' : 'Active',
      externalId: `C${i + 1}`,
      selfServiceAllowed: false,
      billOnBehalfOfEnabled: true,
      orderApprovalRequired: false,
      updatedDate: '2026-01-10T11:33:12.314-0600',
    }))
    const products = [
      { id: uuid(2, 1), name: 'Microsoft 365 Business Premium', vendorName: 'Microsoft', sku: 'MST-MCT-247' },
      { id: uuid(2, 2), name: 'Microsoft 365 E3', vendorName: 'Microsoft', sku: 'MST-MCT-300' },
      { id: uuid(2, 3), name: 'Acronis Cyber Protect', vendorName: 'Acronis', sku: 'ACR-CP-001' },
    ].map((p) => ({ ...p, shortDescription: p.name, vendorSku: `${p.sku}-V`, requiresCommitment: false }))
    const subscriptions = companies.slice(0, 3).flatMap((c, i) =>
      products.slice(0, 2).map((p, j) => ({
        id: uuid(3, i * 2 + j + 1),
        companyId: c.id,
        productId: p.id,
        quantity: 5 + i + j,
        startDate: '2026-01-01T08:30:00Z',
        createdDate: '2025-12-01',
        billingStart: '2026-01-01',
        status: j === 1 && i === 2 ? 'Cancelled' : 'Active',
        price: 22,
        currencyCode: 'USD',
        productName: p.name,
        billingTerm: 'Monthly',
      })),
    )
    const orders = subscriptions.map((s, i) => ({
      id: uuid(4, i + 1),
      companyId: s.companyId,
      createdDate: '2025-12-01',
      orderedBy: 'Pax8 Partner',
      orderedByUserEmail: 'tech@msp.example',
      isScheduled: false,
      lineItems: [{ id: uuid(5, i + 1), productId: s.productId, subscriptionId: s.id, quantity: s.quantity }],
    }))
    const first = subscriptions[0] as Json
    this.raw = {
      companies,
      products,
      orders,
      subscriptions,
      history: {
        [String(first.id)]: [
          { ...first, quantity: 5, status: 'Active', updatedDate: '2026-01-10T03:12:14.453-0300' },
          { ...first, quantity: 2, status: 'PendingAutomated', createdDate: '2025-12-01T13:20:13.153-0700' },
        ],
      },
    }
  }

  get credentials(): Record<string, string> {
    return { ...this.#credentials, baseUrl: this.url }
  }

  revokeTokens(): void {
    this.#tokens.clear()
  }

  protected errorReply(status: number, req: RecordedRequest): Reply {
    const message =
      status === 401
        ? 'Unauthorized'
        : status === 429
          ? 'Too Many Requests'
          : status === 404
            ? 'Not Found'
            : status >= 500
              ? 'Internal Server Error'
              : 'Bad Request'
    if (req.path === '/v1/token' && status === 401)
      return { status, body: { error: 'access_denied', error_description: 'Unauthorized' } }
    return {
      status,
      body: { type: `https://httpstatuses.io/${status}`, message, instance: req.path, status },
    }
  }

  #error(status: number, req: RecordedRequest, message: string, details: string[] = []): Reply {
    return {
      status,
      body: {
        type: `https://httpstatuses.io/${status}`,
        message,
        instance: req.path,
        status,
        ...(details.length ? { details: details.map((d) => ({ message: d })) } : {}),
      },
    }
  }

  protected handle(req: RecordedRequest): Reply {
    if (req.path === '/v1/token') return this.#token(req)
    const auth = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''))
    const expires = auth?.[1] ? this.#tokens.get(auth[1]) : undefined
    if (expires === undefined || expires <= this.now().getTime()) return this.errorReply(401, req)
    if (req.path === '/v1/orders' && req.method === 'POST') return this.#order(req)
    const one = /^\/v1\/subscriptions\/([^/]+)$/.exec(req.path)
    if (one?.[1]) return this.#subscription(req, decodeURIComponent(one[1]))
    if (req.method !== 'GET') return this.#error(405, req, 'Method Not Allowed')
    const history = /^\/v1\/subscriptions\/([^/]+)\/history$/.exec(req.path)
    if (history?.[1]) {
      const id = decodeURIComponent(history[1])
      const entries = this.raw.history[id]
      if (entries) return { status: 200, body: { content: entries } }
      if (this.raw.subscriptions.some((s) => s.id === id)) return { status: 200, body: { content: [] } }
      return this.#error(404, req, 'Subscription not found', [`No subscription with id ${id}`])
    }
    const allowed = LIST_PARAMS[req.path]
    if (!allowed) return this.#error(404, req, 'Not Found')
    const unknown = [...req.query.keys()].filter((k) => !allowed.includes(k))
    if (unknown.length)
      return this.#error(
        400,
        req,
        'Bad Request',
        unknown.map((k) => `Unknown parameter ${k}`),
      )
    const page = Number(req.query.get('page') ?? '0')
    const size = Number(req.query.get('size') ?? '10')
    if (!Number.isInteger(page) || page < 0 || !Number.isInteger(size) || size < 1 || size > 200)
      return this.#error(400, req, 'Bad Request', ['size must be between 1 and 200; page must be 0 or more'])
    const rows = this.#rows(req.path).filter((r) =>
      [...req.query.entries()].every(([k, v]) => {
        if (k === 'page' || k === 'size' || k === 'sort') return true
        if (k === 'search') return JSON.stringify(r).toLowerCase().includes(v.toLowerCase())
        if (k === 'country') return (r.address as Json | undefined)?.country === v
        return String(r[k]) === v
      }),
    )
    return {
      status: 200,
      body: {
        content: rows.slice(page * size, page * size + size),
        page: {
          size,
          totalElements: rows.length,
          totalPages: Math.ceil(rows.length / size),
          number: page,
        },
      },
    }
  }

  #order(req: RecordedRequest): Reply {
    const b = objectBody(req) ?? {}
    const details: string[] = []
    const company = this.raw.companies.find((c) => c.id === b.companyId)
    if (!company) details.push(`companyId ${String(b.companyId)} is not one of your companies`)
    else if (company.status !== 'Active') details.push(`Company ${String(company.name)} is not active`)
    const items = Array.isArray(b.lineItems) ? (b.lineItems as Json[]) : []
    if (items.length === 0) details.push('lineItems must contain at least one line item')
    const terms = ['Monthly', 'Annual', '2-Year', '3-Year', 'One-Time', 'Trial', 'Activation']
    for (const [i, l] of items.entries()) {
      if (!this.raw.products.some((p) => p.id === l.productId))
        details.push(`lineItems[${i}].productId ${String(l.productId)} is not a product`)
      if (!Number.isInteger(l.quantity) || (l.quantity as number) < 1)
        details.push(`lineItems[${i}].quantity must be a whole number of at least 1`)
      if (!terms.includes(String(l.billingTerm)))
        details.push(`lineItems[${i}].billingTerm must be one of ${terms.join(', ')}`)
      if (typeof l.lineItemNumber !== 'number') details.push(`lineItems[${i}].lineItemNumber is required`)
    }
    if (details.length) return this.#error(422, req, 'Invalid order', details)
    const mock = req.query.get('isMock') === 'true'
    const n = this.raw.orders.length + 1
    const order: Json = {
      ...(mock ? {} : { id: uuid(6, n) }),
      companyId: b.companyId,
      createdDate: this.now().toISOString().slice(0, 10),
      orderedBy: b.orderedBy ?? 'Pax8 Partner',
      isScheduled: false,
      lineItems: items.map((l, i) => ({
        ...(mock ? {} : { id: uuid(7, n * 10 + i), subscriptionId: uuid(8, n * 10 + i) }),
        productId: l.productId,
        billingTerm: l.billingTerm,
        quantity: l.quantity,
      })),
    }
    if (!mock) {
      this.raw.orders.push(order)
      for (const l of order.lineItems as Json[])
        this.raw.subscriptions.push({
          id: l.subscriptionId,
          companyId: b.companyId,
          productId: l.productId,
          quantity: l.quantity,
          billingTerm: l.billingTerm,
          status: 'Active',
          createdDate: order.createdDate,
        })
    }
    return { status: 200, body: order }
  }

  #subscription(req: RecordedRequest, id: string): Reply {
    const sub = this.raw.subscriptions.find((s) => s.id === id)
    if (!sub) return this.#error(404, req, 'Subscription not found', [`No subscription with id ${id}`])
    if (req.method === 'GET') return { status: 200, body: sub }
    if (req.method === 'PUT') {
      const b = objectBody(req) ?? {}
      if (!['price', 'billingTerm', 'quantity', 'startDate'].some((k) => b[k] !== undefined))
        return this.#error(422, req, 'Invalid Subscription Update', [
          'At least one of price, billingTerm, quantity, startDate is required',
        ])
      if (b.quantity !== undefined && (!Number.isInteger(b.quantity) || (b.quantity as number) < 1))
        return this.#error(422, req, 'Invalid Subscription Update', [
          'quantity must be a whole number of at least 1',
        ])
      if (sub.status === 'Cancelled')
        return this.#error(422, req, 'Invalid Subscription Update', [
          'A cancelled subscription cannot be changed',
        ])
      for (const k of ['price', 'billingTerm', 'quantity', 'startDate']) if (b[k] !== undefined) sub[k] = b[k]
      sub.updatedDate = this.now().toISOString()
      return { status: 200, body: sub }
    }
    if (req.method === 'DELETE') {
      const at = req.query.get('cancelDate')
      sub.status = at && Date.parse(at) > this.now().getTime() ? 'PendingCancel' : 'Cancelled'
      return { status: 204 }
    }
    return this.#error(405, req, 'Method Not Allowed')
  }

  #rows(path: string): Json[] {
    if (path === '/v1/companies') return this.raw.companies
    if (path === '/v1/products') return this.raw.products
    if (path === '/v1/orders') return this.raw.orders
    return this.raw.subscriptions
  }

  #token(req: RecordedRequest): Reply {
    if (req.method !== 'POST') return this.#error(405, req, 'Method Not Allowed')
    const b = objectBody(req)
    if (!String(req.headers['content-type'] ?? '').includes('application/json') || !b)
      return this.#error(400, req, 'Bad Request', ['The body must be a JSON token request'])
    const missing = ['client_id', 'client_secret', 'audience', 'grant_type'].filter(
      (k) => typeof b[k] !== 'string',
    )
    if (missing.length)
      return this.#error(
        400,
        req,
        'Bad Request',
        missing.map((k) => `${k} is required`),
      )
    if (b.grant_type !== 'client_credentials')
      return {
        status: 400,
        body: { error: 'unsupported_grant_type', error_description: 'Unsupported grant type' },
      }
    if (b.audience !== 'https://api.pax8.com')
      return {
        status: 403,
        body: { error: 'access_denied', error_description: 'Service not enabled within domain' },
      }
    if (b.client_id !== this.#credentials.clientId || b.client_secret !== this.#credentials.clientSecret)
      return this.errorReply(401, req)
    this.tokensIssued += 1
    const token = `pax8-access-${this.tokensIssued}-${Math.random().toString(36).slice(2, 10)}`
    this.#tokens.set(token, this.now().getTime() + TOKEN_LIFETIME_S * 1000)
    return { status: 200, body: { access_token: token, expires_in: TOKEN_LIFETIME_S, token_type: 'Bearer' } }
  }
}
