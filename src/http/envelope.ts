/**
 * The success envelope and its errors, for the routes that follow the SynthesQ documents (`/integrations`,
 * `/routing-rules`, resources): `{success, message, data, meta}`, `meta` + `links` pagination, and the Laravel-style 422
 * `{success: false, message: "The given data was invalid.", errors: {field: [...]}}`. The rest of the API keeps
 * the `{error, code, details}` shape of errors.ts.
 */
import { OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { ZodError } from 'zod'
import type { AppContext } from '../context.ts'
import type { AppEnv } from './env.ts'
import { domainFailure, domainStatus } from './error-status.ts'
import { ApiError, databaseInputFault, toErrorResponse } from './errors.ts'

export const INVALID_MESSAGE = 'The given data was invalid.'

export class EnvelopeValidationError extends Error {
  override name = 'EnvelopeValidationError'
  constructor(readonly errors: Record<string, string[]>) {
    super(INVALID_MESSAGE)
  }
}

/** Service field names (camelCase) as the SynthesQ API spells them. */
const FIELD_NAMES: Record<string, string> = {
  enabledCapabilities: 'enabled_capabilities',
  integrationId: 'integration_id',
  fallbackIntegrationId: 'fallback_integration_id',
  isDefault: 'is_default',
}

export function envelopeFieldName(field: string): string {
  const [head = '', ...rest] = field.split('.')
  return [FIELD_NAMES[head] ?? head, ...rest].join('.')
}

function add(errors: Record<string, string[]>, field: string, message: string) {
  let list = errors[field]
  if (!list) {
    list = []
    errors[field] = list
  }
  list.push(message)
}

/** Zod issues as Laravel's `errors` object: dotted field path → sentences. */
export function laravelErrors(error: ZodError): Record<string, string[]> {
  const errors: Record<string, string[]> = {}
  for (const issue of error.issues) {
    const path = issue.path.map(String).join('.')
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const field = path ? `${path}.${key}` : key
        add(errors, field, `The ${field} field is not allowed.`)
      }
      continue
    }
    const field = path || 'body'
    // A check that already speaks Laravel (a service's own field message) is passed on as it is.
    if (issue.code === 'custom' && issue.params?.sentence === true) {
      add(errors, field, issue.message)
      continue
    }
    if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) {
      add(errors, field, `The ${field} field is required.`)
    } else if (/^(must|is|may) /.test(issue.message)) {
      add(errors, field, `The ${field} field ${issue.message}.`)
    } else {
      add(errors, field, `The ${field} field is invalid: ${issue.message}.`)
    }
  }
  return errors
}

function renamed(fields: Record<string, string[]>): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const [field, messages] of Object.entries(fields)) {
    const name = envelopeFieldName(field)
    for (const m of messages) add(out, name, m.replaceAll(field, name))
  }
  return out
}

function invalid(c: Context, errors: Record<string, string[]>): Response {
  return c.json({ success: false, message: INVALID_MESSAGE, errors }, 422)
}

function failure(c: Context, status: ContentfulStatusCode, message: string, code: string): Response {
  return c.json({ success: false, message, code }, status)
}

/** Maps anything thrown by a SynthesQ route to the SynthesQ error shape. */
export function envelopeErrorResponse(err: unknown, c: Context<AppEnv>, ctx: AppContext): Response {
  if (err instanceof EnvelopeValidationError) return invalid(c, err.errors)
  const refused = domainFailure(err)
  if (refused) {
    if (refused.code === 'invalid') return invalid(c, renamed(refused.fields))
    const { status, code } = domainStatus(refused)
    return failure(c, status, refused.message, code)
  }
  if (err instanceof ApiError) {
    if (err.status === 422 && err.details?.length) {
      const errors: Record<string, string[]> = {}
      for (const d of err.details) add(errors, d.path, d.message)
      return invalid(c, errors)
    }
    return failure(c, err.status, err.message, err.code)
  }
  if (err instanceof HTTPException && err.status < 500) {
    const malformed = err.status === 400 && /json/i.test(err.message)
    return failure(
      c,
      err.status as ContentfulStatusCode,
      malformed ? 'Malformed JSON in request body' : err.message || 'Request could not be processed',
      malformed ? 'invalid_json' : 'http_error',
    )
  }
  const fault = databaseInputFault(err, c.var.log ?? ctx.log)
  if (fault) return failure(c, fault.status, fault.message, fault.code)
  const fallback = toErrorResponse(err, c, c.var.log ?? ctx.log)
  return c.json(
    { success: false, message: 'Internal server error', code: 'internal' },
    fallback.status as 500,
  )
}

/** Every router envelopeRouter made, so the app can tell which of its routes answer in the SynthesQ shapes. */
export const envelopeRouters = new WeakSet<OpenAPIHono<AppEnv>>()

/** A router for SynthesQ routes: its validation failures and errors take the SynthesQ shapes. */
export function envelopeRouter(ctx: AppContext): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw new EnvelopeValidationError(laravelErrors(result.error))
    },
  })
  app.onError((err, c) => envelopeErrorResponse(err, c, ctx))
  envelopeRouters.add(app)
  return app
}

// ---- schemas ----

export const metaSchema = z.object({}).openapi({ description: 'Always present; empty for single resources' })

/** `{success: true, message?, data, meta}` */
export function envelope<T extends z.ZodType>(data: T) {
  return z.object({ success: z.literal(true), message: z.string().optional(), data, meta: metaSchema })
}

export const pageMetaSchema = z
  .object({
    current_page: z.number().int(),
    per_page: z.number().int(),
    total: z.number().int(),
    last_page: z.number().int(),
  })
  .openapi('PageMeta')

export const pageLinksSchema = z
  .object({ first: z.string(), last: z.string(), prev: z.string().nullable(), next: z.string().nullable() })
  .openapi('PageLinks')

/** `{success: true, data: [...], meta: {current_page, per_page, total, last_page}, links: {first, last, prev, next}}` */
export function pageEnvelope<T extends z.ZodType>(item: T) {
  return z.object({
    success: z.literal(true),
    message: z.string().optional(),
    data: z.array(item),
    meta: pageMetaSchema,
    links: pageLinksSchema,
  })
}

export const pageParams = {
  page: z.coerce
    .number()
    .int()
    .min(1, 'must be at least 1')
    .default(1)
    .openapi({ description: 'Page number' }),
  per_page: z.coerce
    .number()
    .int()
    .min(1, 'must be at least 1')
    .max(100, 'may not be greater than 100')
    .default(25)
    .openapi({ description: 'Results per page (default 25, max 100)' }),
}

/** The page's `meta` and `links`; links keep the request's other query parameters. */
export function pagination(
  path: string,
  query: Record<string, string | number | undefined>,
  page: number,
  perPage: number,
  total: number,
) {
  const lastPage = Math.max(1, Math.ceil(total / perPage))
  const link = (p: number) => {
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v !== undefined && k !== 'page') params.set(k, String(v))
    params.set('page', String(p))
    return `${path}?${params.toString()}`
  }
  return {
    meta: { current_page: page, per_page: perPage, total, last_page: lastPage },
    links: {
      first: link(1),
      last: link(lastPage),
      prev: page > 1 ? link(Math.min(page - 1, lastPage)) : null,
      next: page < lastPage ? link(page + 1) : null,
    },
  }
}

export const envelopeErrorSchema = z
  .object({
    success: z.literal(false),
    message: z.string().openapi({ example: INVALID_MESSAGE }),
    code: z
      .string()
      .optional()
      .openapi({ description: 'Machine-readable reason (not on 422 validation errors)' }),
    errors: z
      .record(z.string(), z.array(z.string()))
      .optional()
      .openapi({ example: { provider: ['An integration for this provider already exists.'] } }),
  })
  .openapi('SynthesqError')

const DESCRIPTIONS = {
  400: 'Malformed request, or a partner/system key named no organization (`orgId`)',
  401: 'Missing, unknown or revoked API key',
  404: 'Not found, or not reachable by this API key',
  409: 'Conflicts with the current state',
  422: '`The given data was invalid.` with `errors` naming each field',
} as const

export function envelopeErrorResponses<S extends keyof typeof DESCRIPTIONS>(...statuses: S[]) {
  const out = {} as Record<
    S,
    { description: string; content: { 'application/json': { schema: typeof envelopeErrorSchema } } }
  >
  for (const s of statuses) {
    out[s] = {
      description: DESCRIPTIONS[s],
      content: { 'application/json': { schema: envelopeErrorSchema } },
    }
  }
  return out
}
