import { createRoute, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { AppContext } from '../../context.ts'
import {
  type AppView,
  type CustomerState,
  getApp,
  listCustomers,
  onboardCustomers,
  onboardingState,
  registerApp,
  resumeOnboarding,
} from '../../onboarding/microsoft365.ts'
import type { AppEnv } from '../env.ts'
import { router } from '../env.ts'
import { domainFailure } from '../error-status.ts'
import { ApiError, domainApiError, errorResponses } from '../errors.ts'
import { actorOf, type Principal } from '../principal.ts'
import { iso, timestamp, uuidSchema } from '../schemas.ts'

const TAG = 'Microsoft 365 onboarding'

const httpsUrl = z
  .url({ message: 'must be a URL' })
  .refine((u) => /^https?:\/\//i.test(u), { message: 'must be an http(s) URL' })

const grantSchema = z.strictObject({
  enterpriseApplicationId: z.string().trim().min(1).openapi({
    description:
      "The resource's enterprise application id (Microsoft Graph: 00000003-0000-0000-c000-000000000000)",
  }),
  scope: z.string().trim().min(1).openapi({
    description: 'Comma-separated application permissions, e.g. "User.Read.All,Group.Read.All"',
  }),
})

const appBody = z
  .strictObject({
    appId: uuidSchema.openapi({ description: 'The multi-tenant app’s Application (client) id' }),
    clientSecret: z
      .string()
      .min(1)
      .max(1024)
      .openapi({ description: 'A client secret of the app; never shown again' }),
    partnerTenantId: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, 'must be a tenant id or domain')
      .openapi({
        description: 'The partner’s own Entra ID tenant (id or domain), where the app is registered',
      }),
    grants: z
      .array(grantSchema)
      .min(1)
      .max(20)
      .optional()
      .openapi({
        description:
          'Partner Center `applicationGrants` consented in each customer tenant. Default: Microsoft Graph ' +
          'User.Read.All, Group.Read.All, Organization.Read.All, Reports.Read.All',
      }),
    loginBaseUrl: httpsUrl.optional().openapi({ description: 'Default https://login.microsoftonline.com' }),
    graphBaseUrl: httpsUrl.optional().openapi({ description: 'Default https://graph.microsoft.com' }),
    partnerCenterBaseUrl: httpsUrl
      .optional()
      .openapi({ description: 'Default https://api.partnercenter.microsoft.com' }),
  })
  .openapi('Microsoft365PartnerAppInput')

const appSchema = z
  .object({
    id: z.uuid(),
    partnerId: z.uuid(),
    appId: z.string(),
    partnerTenantId: z.string(),
    grants: z.array(z.object({ enterpriseApplicationId: z.string(), scope: z.string() })),
    loginBaseUrl: z.string(),
    graphBaseUrl: z.string(),
    partnerCenterBaseUrl: z.string(),
    hasClientSecret: z.literal(true),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi('Microsoft365PartnerApp')

const customerSchema = z
  .object({
    customerId: z.string().openapi({ description: 'Partner Center customer id' }),
    tenantId: z.string(),
    companyName: z.string(),
    domain: z.string().nullable(),
    orgId: z.uuid().nullable().openapi({ description: 'The Patchbay organization it is mapped to' }),
    status: z.enum(['not_selected', 'pending', 'consented', 'integrated', 'verified', 'failed']).openapi({
      description:
        '`pending` (chosen, consent not granted yet) → `consented` → `integrated` → `verified`; `failed` at ' +
        '`failedStep`, with `error` (the vendor’s words) and `fix`',
    }),
    failedStep: z.enum(['consent', 'integration', 'verify']).nullable(),
    error: z.string().nullable(),
    fix: z.string().nullable().openapi({ description: 'What to do about the error, then resume' }),
    integrationId: z.uuid().nullable(),
    updatedAt: timestamp.nullable(),
  })
  .openapi('Microsoft365OnboardingCustomer')

const customersResponse = z
  .object({ data: z.array(customerSchema) })
  .openapi('Microsoft365OnboardingCustomers')

const onboardBody = z
  .strictObject({
    customers: z
      .array(
        z.strictObject({
          customerId: z.string().trim().min(1).max(128),
          orgId: uuidSchema,
        }),
      )
      .min(1)
      .max(500),
  })
  .openapi('Microsoft365OnboardCustomers')

function appResource(a: AppView) {
  return {
    ...a,
    hasClientSecret: true as const,
    createdAt: iso(a.createdAt) as string,
    updatedAt: iso(a.updatedAt) as string,
  }
}

function customerResource(c: CustomerState) {
  return {
    ...c,
    failedStep: c.failedStep as 'consent' | 'integration' | 'verify' | null,
    updatedAt: iso(c.updatedAt),
  }
}

/** The onboarding belongs to a partner: only a partner key may run it. */
function partnerOf(p: Principal): string {
  if (p.scope !== 'partner') {
    throw ApiError.forbidden('The Microsoft 365 onboarding is run with a partner key')
  }
  return p.partnerId
}

async function mapErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    const failure = domainFailure(err)
    if (!failure) throw err
    throw domainApiError(failure)
  }
}

function audit(c: Context<AppEnv>) {
  return { actor: actorOf(c.var.principal), requestId: c.var.requestId }
}

export function microsoft365OnboardingRoutes(ctx: AppContext) {
  const app = router()

  app.openapi(
    createRoute({
      method: 'put',
      path: '/microsoft365/app',
      tags: [TAG],
      summary: "Register the partner's multi-tenant app",
      description:
        'Step 1 of the CSP/GDAP wizard. Proves the app by getting a Partner Center token in the partner tenant ' +
        '(Microsoft’s refusal is a 422 in Microsoft’s words), then stores it; the secret is encrypted and never ' +
        'shown again. Registering again replaces the app. Partner keys only.',
      request: { body: { required: true, content: { 'application/json': { schema: appBody } } } },
      responses: {
        200: { description: 'Registered', content: { 'application/json': { schema: appSchema } } },
        ...errorResponses(401, 403, 422),
      },
    }),
    async (c) => {
      const partnerId = partnerOf(c.var.principal)
      const body = c.req.valid('json')
      const view = await mapErrors(() => registerApp(ctx, partnerId, body, audit(c)))
      return c.json(appResource(view), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/microsoft365/app',
      tags: [TAG],
      summary: "The partner's registered app",
      responses: {
        200: { description: 'The app (no secret)', content: { 'application/json': { schema: appSchema } } },
        ...errorResponses(401, 403, 404),
      },
    }),
    async (c) => {
      const view = await getApp(ctx, partnerOf(c.var.principal))
      if (!view) throw ApiError.notFound('Microsoft 365 partner app')
      return c.json(appResource(view), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/microsoft365/customers',
      tags: [TAG],
      summary: "The partner's customers in Partner Center, with their onboarding state",
      description: 'Step 2: lists `GET /v1/customers` live; customers never chosen are `not_selected`.',
      responses: {
        200: { description: 'Customers', content: { 'application/json': { schema: customersResponse } } },
        ...errorResponses(401, 403, 404, 502),
      },
    }),
    async (c) => {
      const list = await mapErrors(() => listCustomers(ctx, partnerOf(c.var.principal)))
      return c.json({ data: list.map(customerResource) }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/microsoft365/customers',
      tags: [TAG],
      summary: 'Onboard chosen customers, each mapped to an organization',
      description:
        'Step 3: for each customer, grants the app’s consent in its tenant (Partner Center application ' +
        'consents), creates a Microsoft 365 integration in the chosen organization and verifies it. Each ' +
        'customer’s outcome is stored and audited; a customer that fails shows `error` and `fix`. Answers ' +
        'with the state of the chosen customers after the run.',
      request: { body: { required: true, content: { 'application/json': { schema: onboardBody } } } },
      responses: {
        200: {
          description: 'The run’s outcome',
          content: { 'application/json': { schema: customersResponse } },
        },
        ...errorResponses(401, 403, 404, 422, 502),
      },
    }),
    async (c) => {
      const partnerId = partnerOf(c.var.principal)
      const body = c.req.valid('json')
      const chosen = new Set(body.customers.map((x) => x.customerId))
      const states = await mapErrors(() => onboardCustomers(ctx, partnerId, body.customers, audit(c)))
      return c.json({ data: states.filter((s) => chosen.has(s.customerId)).map(customerResource) }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/microsoft365/resume',
      tags: [TAG],
      summary: 'Resume the onboarding',
      description:
        'Runs the remaining steps of every chosen customer not yet `verified`, from where each stopped (a failed ' +
        'step is tried again, for example after the GDAP role or consent was fixed).',
      responses: {
        200: {
          description: 'Every chosen customer',
          content: { 'application/json': { schema: customersResponse } },
        },
        ...errorResponses(401, 403, 404),
      },
    }),
    async (c) => {
      const states = await mapErrors(() => resumeOnboarding(ctx, partnerOf(c.var.principal), audit(c)))
      return c.json({ data: states.map(customerResource) }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/microsoft365/state',
      tags: [TAG],
      summary: 'The chosen customers’ onboarding state',
      description: 'As stored, without calling Partner Center.',
      responses: {
        200: {
          description: 'Every chosen customer',
          content: { 'application/json': { schema: customersResponse } },
        },
        ...errorResponses(401, 403),
      },
    }),
    async (c) => {
      const states = await onboardingState(ctx, partnerOf(c.var.principal))
      return c.json({ data: states.map(customerResource) }, 200)
    },
  )

  return app
}
