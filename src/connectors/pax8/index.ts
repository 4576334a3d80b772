import { z } from 'zod'
import type { ResourceItem, ResourceKind } from '../../resources/kinds.ts'
import type { CredentialSchema } from '../../vault/mask.ts'
import { credentialParser, defineConnector, missingCredential } from '../define.ts'
import { isoDate, overrideBase, verifyBy } from '../shared/credentials.ts'
import { decodeCursor, encodeCursor } from '../shared/cursor.ts'
import { arr, expectObject, type Json, joinMessages, obj, str, withQuery } from '../shared/json.ts'
import { baseUrlField } from '../shared/psa.ts'
import { accountKey, checkFilters, offeredKind, oneOf, pageSize } from '../shared/resource-filters.ts'
import type {
  Connector,
  ConnectorAction,
  ConnectorEnv,
  PageOf,
  ResourceKindInfo,
  ResourceOperations,
  ResourceQuery,
} from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { callVendor, sensitiveValues, type VendorResponse } from '../vendor-http.ts'

/**
 * Pax8 partner API (https://devx.pax8.com/docs). OAuth 2.0 client credentials: the partner's client id and secret
 * are exchanged at `POST https://api.pax8.com/v1/token` (audience `https://api.pax8.com`; the docs' URL wins over
 * the older `token-manager.pax8.com` in the OpenAPI document) for a Bearer token that lives 24 hours
 * (`expires_in: 86400`). The token is cached for its lifetime when the env has a token cache, and fetched again
 * once when Pax8 refuses it (401). Lists page with `page` (from 0) and `size` (at most 200) and answer
 * `{content, page: {size, totalElements, totalPages, number}}`.
 */
const VENDOR = 'Pax8'
const DEFAULT_BASE = 'https://api.pax8.com'
const AUDIENCE = 'https://api.pax8.com'
const MAX_PAGE = 200
/** A token this close to its expiry is not used: a request sent with it could arrive after it lapsed. */
const EXPIRY_MARGIN_MS = 60_000

export const credentialSchema = {
  clientId: {
    type: 'string',
    sensitive: false,
    required: true,
    description: 'Client ID of an API application (Pax8 app: Integrations > API Credentials > Create app).',
  },
  clientSecret: {
    type: 'string',
    sensitive: true,
    required: true,
    description: "The application's client secret, shown once when the app is created.",
  },
  baseUrl: baseUrlField(
    'Calls this host instead of https://api.pax8.com (a proxy, a test stand-in); /v1 is appended, for the token too.',
  ),
} satisfies CredentialSchema

/** The stored credentials as this connector reads them, parsed once at its edge (define.ts). */
const credentials = credentialParser(credentialSchema, missingCredential(VENDOR))
type Creds = z.infer<typeof credentials.schema>

function base(creds: Creds): string {
  return `${overrideBase(creds) ?? DEFAULT_BASE}/v1`
}

/** Pax8's errors: `{type, message, instance, status, details: [{message}]}`; the token endpoint's are OAuth's. */
function errorText(body: unknown): string | undefined {
  const b = obj(body)
  if (!b) return undefined
  const oauth = str(b.error_description)
  if (oauth) return str(b.error) ? `${oauth} (${str(b.error)})` : oauth
  return joinMessages(
    str(b.message) ?? str(b.error),
    arr(b.details).map((d) => str(obj(d)?.message)),
  )
}

function secrets(creds: Creds): unknown[] {
  return sensitiveValues(credentialSchema, creds)
}

function tokenKey(creds: Creds): string {
  return accountKey('pax8', base(creds), creds.clientId, creds.clientSecret)
}

async function fetchToken(creds: Creds, env: ConnectorEnv): Promise<{ token: string; expiresAt: number }> {
  const res = await callVendor<unknown>(env, {
    vendor: VENDOR,
    method: 'POST',
    url: `${base(creds)}/token`,
    body: {
      client_id: creds.clientId,
      client_secret: creds.clientSecret,
      audience: AUDIENCE,
      grant_type: 'client_credentials',
    },
    secrets: secrets(creds),
    errorText,
  })
  const body = expectObject(VENDOR, res.data, 'the token request')
  const token = str(body.access_token)
  if (!token) throw new VendorError(`${VENDOR} answered the token request without an access_token`, 502)
  const seconds = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 86_400
  return { token, expiresAt: env.clock.now().getTime() + seconds * 1000 }
}

/** A token for this account: the cached one while it lives, else a new one (cached when the env has a cache). */
async function accessToken(creds: Creds, env: ConnectorEnv): Promise<{ token: string; cached: boolean }> {
  const key = tokenKey(creds)
  const hit = await env.tokens?.get(key)
  if (hit && hit.expiresAt - EXPIRY_MARGIN_MS > env.clock.now().getTime())
    return { token: hit.token, cached: true }
  const fresh = await fetchToken(creds, env)
  await env.tokens?.set(key, fresh)
  return { token: fresh.token, cached: false }
}

/** One authenticated GET; a cached token Pax8 refuses (401) is dropped and the call made once more with a new one. */
async function get<T = unknown>(
  creds: Creds,
  env: ConnectorEnv,
  path: string,
  query: Record<string, string | number | undefined> = {},
): Promise<VendorResponse<T>> {
  const send = (token: string) =>
    callVendor<T>(env, {
      vendor: VENDOR,
      url: withQuery(`${base(creds)}${path}`, query),
      headers: { authorization: `Bearer ${token}` },
      secrets: [...secrets(creds), token],
      errorText,
    })
  const first = await accessToken(creds, env)
  try {
    return await send(first.token)
  } catch (err) {
    if (!(err instanceof VendorError) || err.status !== 401 || !first.cached) throw err
    await env.tokens?.drop(tokenKey(creds))
    const again = await accessToken(creds, env)
    return send(again.token)
  }
}

/** One authenticated write, with the same one-time token refresh as `get`. */
async function write<T = unknown>(
  creds: Creds,
  env: ConnectorEnv,
  method: 'POST' | 'PUT' | 'DELETE',
  path: string,
  opts: { query?: Record<string, string | undefined>; body?: unknown; timeoutMs?: number | undefined } = {},
): Promise<VendorResponse<T>> {
  const send = (token: string) =>
    callVendor<T>(env, {
      vendor: VENDOR,
      method,
      url: withQuery(`${base(creds)}${path}`, opts.query ?? {}),
      headers: { authorization: `Bearer ${token}` },
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
      secrets: [...secrets(creds), token],
      errorText,
    })
  const first = await accessToken(creds, env)
  try {
    return await send(first.token)
  } catch (err) {
    if (!(err instanceof VendorError) || err.status !== 401 || !first.cached) throw err
    await env.tokens?.drop(tokenKey(creds))
    return send((await accessToken(creds, env)).token)
  }
}

interface Pax8Page {
  items: Json[]
  total: number | undefined
  hasNext: boolean
}

async function page(
  creds: Creds,
  env: ConnectorEnv,
  path: string,
  query: ResourceQuery,
  filters: Record<string, string | undefined>,
): Promise<{ page: Pax8Page; next: (p: Pax8Page) => string | undefined }> {
  const cursor = decodeCursor<{ page: number; size: number }>(VENDOR, query.cursor)
  const number = typeof cursor?.page === 'number' ? cursor.page : 0
  const size =
    typeof cursor?.size === 'number' ? pageSize(cursor.size, MAX_PAGE) : pageSize(query.limit, MAX_PAGE)
  const res = await get(creds, env, path, { page: number, size, ...filters })
  const body = expectObject(VENDOR, res.data, `GET ${path}`)
  const items = arr(body.content).flatMap((c) => (obj(c) ? [obj(c) as Json] : []))
  const info = obj(body.page)
  const totalPages = typeof info?.totalPages === 'number' ? info.totalPages : undefined
  const result: Pax8Page = {
    items,
    total: typeof info?.totalElements === 'number' ? info.totalElements : undefined,
    // Without page information, a full page is taken to mean more may follow.
    hasNext: totalPages !== undefined ? number + 1 < totalPages : items.length >= size,
  }
  return {
    page: result,
    next: (p) => (p.hasNext ? encodeCursor({ page: number + 1, size }) : undefined),
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

const SUBSCRIPTION_STATUSES = [
  'Active',
  'Cancelled',
  'PendingManual',
  'PendingAutomated',
  'PendingCancel',
  'WaitingForDetails',
  'Trial',
  'Converted',
  'PendingActivation',
  'Activated',
] as const
const BILLING_TERMS = ['Monthly', 'Annual', '2-Year', '3-Year', 'One-Time', 'Trial', 'Activation'] as const

const KINDS: readonly ResourceKindInfo[] = [
  {
    kind: 'companies',
    description: "The partner's customer companies.",
    filters: { status: 'Active, Inactive or Deleted', country: 'Country, as Pax8 stores it (e.g. "US")' },
  },
  {
    kind: 'products',
    description: 'The Pax8 catalogue.',
    filters: {
      vendorName: 'Only this vendor\'s products (e.g. "Microsoft")',
      search: 'Name, vendor, SKU or id',
    },
  },
  {
    kind: 'orders',
    description: 'Orders placed for customers.',
    filters: { companyId: "One company's orders" },
  },
  {
    kind: 'subscriptions',
    description: "Customers' subscriptions.",
    filters: {
      companyId: "One company's subscriptions",
      productId: "One product's subscriptions",
      status: SUBSCRIPTION_STATUSES.join(', '),
      billingTerm: BILLING_TERMS.join(', '),
    },
  },
  {
    kind: 'subscription-history',
    description:
      "One subscription's history: each entry is the subscription as it stood after a change, newest first as Pax8 sends it.",
    filters: { subscriptionId: 'Required: the subscription whose history to read' },
  },
]

async function list<K extends ResourceKind>(
  creds: Creds,
  kind: K,
  query: ResourceQuery,
  env: ConnectorEnv,
): Promise<PageOf<ResourceItem<K>>> {
  const info = offeredKind(VENDOR, KINDS, kind)
  checkFilters(VENDOR, info, query.filter)
  const f = query.filter
  const out = await listKind(creds, kind, query, f, env)
  return out as PageOf<ResourceItem<K>>
}

async function listKind(
  creds: Creds,
  kind: ResourceKind,
  query: ResourceQuery,
  f: Record<string, string>,
  env: ConnectorEnv,
): Promise<PageOf<ResourceItem>> {
  switch (kind) {
    case 'companies': {
      const status = oneOf(VENDOR, 'status', f.status, ['Active', 'Inactive', 'Deleted'])
      const { page: p, next } = await page(creds, env, '/companies', query, { status, country: f.country })
      return {
        items: p.items.map((c) => ({ id: str(c.id) ?? '', name: str(c.name) ?? str(c.id) ?? '', raw: c })),
        next: next(p),
      }
    }
    case 'products': {
      const { page: p, next } = await page(creds, env, '/products', query, {
        vendorName: f.vendorName,
        search: f.search,
      })
      return {
        items: p.items.map((c) => ({
          id: str(c.id) ?? '',
          name: str(c.name) ?? str(c.id) ?? '',
          vendor: str(c.vendorName) ?? null,
          sku: str(c.sku) ?? str(c.vendorSku) ?? null,
          raw: c,
        })),
        next: next(p),
      }
    }
    case 'orders': {
      const { page: p, next } = await page(creds, env, '/orders', query, { companyId: f.companyId })
      return {
        items: p.items.map((o) => ({
          id: str(o.id) ?? '',
          companyId: str(o.companyId) ?? null,
          createdAt: isoDate(o.createdDate) ?? null,
          raw: o,
        })),
        next: next(p),
      }
    }
    case 'subscriptions': {
      const { page: p, next } = await page(creds, env, '/subscriptions', query, {
        companyId: f.companyId,
        productId: f.productId,
        status: oneOf(VENDOR, 'status', f.status, SUBSCRIPTION_STATUSES),
        billingTerm: oneOf(VENDOR, 'billingTerm', f.billingTerm, BILLING_TERMS),
      })
      return {
        items: p.items.map((s) => ({
          id: str(s.id) ?? '',
          companyId: str(s.companyId) ?? null,
          productId: str(s.productId) ?? null,
          quantity: num(s.quantity),
          status: str(s.status) ?? null,
          raw: s,
        })),
        next: next(p),
      }
    }
    case 'subscription-history':
      return subscriptionHistory(creds, f, query, env)
    default:
      throw new VendorError(`${VENDOR} offers no "${kind}"`, 400)
  }
}

/**
 * `GET /subscriptions/{id}/history` answers every version of the subscription at once (no paging), each with the
 * subscription's own id; an entry's id here is the subscription id and the entry's position, and its `action` the
 * status the subscription had after that change (Pax8 names no action).
 */
async function subscriptionHistory(
  creds: Creds,
  f: Record<string, string>,
  query: ResourceQuery,
  env: ConnectorEnv,
): Promise<PageOf<ResourceItem<'subscription-history'>>> {
  const subscriptionId = f.subscriptionId
  if (!subscriptionId)
    throw new VendorError(`${VENDOR}: subscription-history needs the filter subscriptionId`, 400)
  if (query.cursor) decodeCursor(VENDOR, query.cursor)
  const res = await get(creds, env, `/subscriptions/${encodeURIComponent(subscriptionId)}/history`)
  const body = expectObject(VENDOR, res.data, 'the subscription history')
  const entries = arr(body.content).flatMap((c) => (obj(c) ? [obj(c) as Json] : []))
  return {
    items: entries.map((e, i) => ({
      id: `${subscriptionId}:${i}`,
      subscriptionId,
      action: str(e.status) ?? null,
      quantity: num(e.quantity),
      createdAt: isoDate(e.updatedDate) ?? isoDate(e.createdDate) ?? null,
      raw: e,
    })),
  }
}

/** Fetches a token and reads one company: proves the client id, the secret and the API are all right. */
async function verify(creds: Creds, env: ConnectorEnv) {
  return verifyBy(async () => {
    const res = await get(creds, env, '/companies', { page: 0, size: 1 })
    const body = expectObject(VENDOR, res.data, 'GET /companies')
    const total = obj(body.page)?.totalElements
    const id = creds.clientId
    return typeof total === 'number'
      ? `Pax8 API client ${id} (${total} ${total === 1 ? 'company' : 'companies'})`
      : `Pax8 API client ${id}`
  })
}

const resources: ResourceOperations<Creds> = { kinds: KINDS, list }

// ---- actions (https://devx.pax8.com/reference) ----
//
// Pax8 takes no idempotency key. An order is previewed with `POST /v1/orders?isMock=true` ("perform validations
// only"), so the approver sees Pax8's own validation; before a retry that may follow an order Pax8 took, the
// company's orders are listed and one dated today or yesterday with the same line items is taken as this one. A
// quantity is absolute (sending it again changes nothing); a cancellation is preceded on a retry by reading the
// subscription.

const pax8Id = z.uuid({ message: 'must be a Pax8 id (UUID)' })

const orderInput = z.strictObject({
  companyId: pax8Id,
  lineItems: z
    .array(
      z.strictObject({
        productId: pax8Id,
        quantity: z.number().int().min(1),
        billingTerm: z.enum(BILLING_TERMS),
        commitmentTermId: pax8Id.optional(),
        provisionStartDate: z.iso.datetime({ offset: true }).optional(),
        provisioningDetails: z
          .array(z.strictObject({ key: z.string().min(1), values: z.array(z.string()) }))
          .optional(),
      }),
    )
    .min(1)
    .max(50),
})
type OrderInput = z.infer<typeof orderInput>

function orderBody(input: OrderInput) {
  return {
    companyId: input.companyId,
    orderedBy: 'Pax8 Partner',
    lineItems: input.lineItems.map((l, i) => ({ ...l, lineItemNumber: i + 1 })),
  }
}

function sameItems(order: Json, input: OrderInput): boolean {
  const items = arr(order.lineItems).map((l) => obj(l) ?? {})
  if (items.length !== input.lineItems.length) return false
  return input.lineItems.every((want) =>
    items.some((got) => got.productId === want.productId && Number(got.quantity) === want.quantity),
  )
}

/**
 * How far back a retry looks for the order an earlier attempt may have placed: a day, so a retry by hand the next
 * morning still finds it. An identical order placed for the same company within that day is taken as this one;
 * the action's result then names that order (its id and date), where a duplicate would cost real money.
 */
const LOOKBACK_MS = 86_400_000

const placeOrder: ConnectorAction<OrderInput, Creds> = {
  name: 'place_order',
  description: 'Places an order for a company (previewed by Pax8 with isMock=true for the approver)',
  input: orderInput,
  needsApproval: true,
  idempotency:
    "No key at Pax8: a retry first lists the company's orders and takes one dated today or yesterday (Pax8 " +
    'dates orders to the day) with the same line items as already placed.',
  async preview(creds, input, env, run) {
    const res = await write(creds, env, 'POST', '/orders', {
      query: { isMock: 'true' },
      body: orderBody(input),
      timeoutMs: run.timeoutMs,
    })
    return res.data
  },
  async run(creds, input, env, run) {
    if (run.mayHaveRun) {
      // Pax8 dates an order to the day: an order taken at 23:59 is found by a retry after midnight too.
      const now = env.clock.now().getTime()
      const days = [now, now - LOOKBACK_MS].map((t) => new Date(t).toISOString().slice(0, 10))
      const res = await get<Json>(creds, env, '/orders', { companyId: input.companyId, size: 200 })
      const found = arr(res.data.content)
        .map((o) => obj(o) ?? {})
        .find((o) => days.some((d) => String(o.createdDate ?? '').startsWith(d)) && sameItems(o, input))
      if (found) return { status: 200, body: JSON.stringify({ found }), vendorRef: str(found.id) }
    }
    const res = await write<Json>(creds, env, 'POST', '/orders', {
      body: orderBody(input),
      timeoutMs: run.timeoutMs,
    })
    return { status: res.status, body: JSON.stringify(res.data), vendorRef: str(obj(res.data)?.id) }
  },
}

const quantityInput = z.strictObject({ subscriptionId: pax8Id, quantity: z.number().int().min(1) })

const changeQuantity: ConnectorAction<z.infer<typeof quantityInput>, Creds> = {
  name: 'change_subscription_quantity',
  description: "Sets a subscription's quantity",
  input: quantityInput,
  needsApproval: true,
  idempotency: 'The quantity is absolute: sending it again changes nothing.',
  async run(creds, input, env, run) {
    const res = await write<Json>(
      creds,
      env,
      'PUT',
      `/subscriptions/${encodeURIComponent(input.subscriptionId)}`,
      {
        body: { quantity: input.quantity },
        timeoutMs: run.timeoutMs,
      },
    )
    return { status: res.status, body: JSON.stringify(res.data), vendorRef: input.subscriptionId }
  },
}

const cancelInput = z.strictObject({
  subscriptionId: pax8Id,
  cancelDate: z.iso.datetime({ offset: true }).optional(),
})

const cancelSubscription: ConnectorAction<z.infer<typeof cancelInput>, Creds> = {
  name: 'cancel_subscription',
  description: 'Cancels a subscription, now or on a date',
  input: cancelInput,
  needsApproval: true,
  idempotency: 'A retry first reads the subscription; one already Cancelled or PendingCancel is left.',
  async run(creds, input, env, run) {
    const path = `/subscriptions/${encodeURIComponent(input.subscriptionId)}`
    if (run.mayHaveRun) {
      const got = await get<Json>(creds, env, path)
      const status = str(obj(got.data)?.status)
      if (status === 'Cancelled' || status === 'PendingCancel')
        return {
          status: got.status,
          body: `The subscription is already ${status}`,
          vendorRef: input.subscriptionId,
        }
    }
    const res = await write(creds, env, 'DELETE', path, {
      query: { cancelDate: input.cancelDate },
      timeoutMs: run.timeoutMs,
    })
    return {
      status: res.status,
      body: typeof res.data === 'string' ? res.data : JSON.stringify(res.data ?? null),
      vendorRef: input.subscriptionId,
    }
  },
}

export const pax8: Connector = defineConnector(credentials, {
  descriptor: {
    id: 'pax8',
    displayName: 'Pax8',
    category: 'marketplace',
    capabilities: ['read_resources'],
    credentialSchema,
    docsUrl: 'https://devx.pax8.com/docs/getting-started',
  },
  verify,
  probe: verify,
  resources,
  actions: [placeOrder, changeQuantity, cancelSubscription],
})
