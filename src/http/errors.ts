import { z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { ZodError } from 'zod'
import { sqlState } from '../lib/error-log.ts'
import { ApiError, type ErrorDetail } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'
import { type DomainFailure, domainFailure, domainStatus } from './error-status.ts'

// Defined outside http/ so feature folders can throw it without importing the HTTP layer; re-exported here
// so routes keep one import.
export { ApiError, type ErrorDetail } from '../lib/errors.ts'

/**
 * The one error shape of the API: `{ error, code, details? }`. `error` is the human sentence (as the Breeze
 * documents quote it, e.g. "Organization context required"), `code` a stable machine-readable name, and
 * `details` the offending fields of a request that failed validation.
 */
export const errorSchema = z
  .object({
    error: z.string().openapi({ example: 'Validation failed: url: Invalid URL' }),
    code: z.string().openapi({ example: 'validation_failed' }),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Error')

export function detailsFromZod(error: ZodError): ErrorDetail[] {
  return error.issues.map((issue) => {
    const base = issue.path.map(String).join('.')
    // An unknown field is reported at its own path, which is what a caller needs to find it.
    if (issue.code === 'unrecognized_keys') {
      return { path: issue.keys.map((k) => (base ? `${base}.${k}` : k)).join(', '), message: 'Unknown field' }
    }
    return { path: base || '(body)', message: issue.message }
  })
}

/**
 * A service's own check run early by a request schema (so one 422 names every problem) marks its issues
 * `params: { refusal: true }`. When those are all there is, the sentence is the one the service's refusal has
 * always had (`Validation failed: …`, as domainApiError builds it), so moving a check does not change the wording.
 */
export const REFUSAL = { refusal: true } as const

export function validationError(error: ZodError, where: string): ApiError {
  const details = detailsFromZod(error)
  const summary = details.map((d) => `${d.path}: ${d.message}`).join('; ')
  const refusalsOnly = error.issues.every((i) => i.code === 'custom' && i.params?.refusal === true)
  const sentence = refusalsOnly ? `Validation failed: ${summary}` : `Invalid ${where}: ${summary}`
  return new ApiError(422, 'validation_failed', sentence, details)
}

/**
 * A domain refusal in this envelope, with the status and code of error-status.ts. An `invalid` one lists each
 * field message in `details`; `rename` maps the service's field names (`credentials.webhookUrl`) to the door's,
 * in the messages too. `message` replaces the service's sentence, for a door that names its resource its own way.
 */
export function domainApiError(
  failure: DomainFailure,
  rename: (field: string) => string = (f) => f,
  message: string = failure.message,
): ApiError {
  const { status, code } = domainStatus(failure)
  if (failure.code !== 'invalid') return new ApiError(status, code, message)
  const details: ErrorDetail[] = []
  for (const [field, messages] of Object.entries(failure.fields)) {
    const path = rename(field)
    for (const m of messages) details.push({ path, message: m.replaceAll(field, path) })
  }
  const summary = details.map((d) => `${d.path}: ${d.message}`).join('; ')
  return new ApiError(status, code, `Validation failed: ${summary}`, details)
}

export function errorBody(err: ApiError) {
  return { error: err.message, code: err.code, ...(err.details ? { details: err.details } : {}) }
}

/**
 * SQLSTATEs that mean the database refused a value the request carried: class 22 (data exception — a NUL, bad
 * byte sequence, out-of-range number or date, unparseable text) and the program limits a value can hit.
 */
const INPUT_FAULT_STATES = new Set([
  '22001', // string_data_right_truncation
  '22003', // numeric_value_out_of_range
  '22007', // invalid_datetime_format
  '22008', // datetime_field_overflow
  '22021', // character_not_in_repertoire (invalid byte sequence, NUL in text)
  '22P02', // invalid_text_representation
  '22P05', // untranslatable_character (\u0000 in jsonb)
  '2202E', // array_subscript_error
  '54000', // program_limit_exceeded (e.g. an index row too large)
  '54001', // statement_too_complex (stack depth)
])

/**
 * The 422 for an error that is the database refusing a value of the request, logged as such (without the value);
 * undefined for any other error. Validation should have refused the value first: this is the backstop.
 */
export function databaseInputFault(err: unknown, log: Logger): ApiError | undefined {
  const state = sqlState(err)
  if (!state || !INPUT_FAULT_STATES.has(state)) return undefined
  log.warn({ err }, 'database refused a request value')
  return new ApiError(
    422,
    'invalid_input',
    'A value in the request cannot be stored (invalid text, number or date)',
  )
}

/** Maps anything thrown in a handler to the error shape. Unknown errors are logged and never shown. */
export function toErrorResponse(err: unknown, c: Context, log: Logger): Response {
  if (err instanceof ApiError) return c.json(errorBody(err), err.status)
  const failure = domainFailure(err)
  if (failure) {
    const refused = domainApiError(failure)
    return c.json(errorBody(refused), refused.status)
  }
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode
    const code =
      status === 400 && /json/i.test(err.message)
        ? 'invalid_json'
        : status === 413
          ? 'payload_too_large'
          : status === 415
            ? 'unsupported_media_type'
            : status === 401
              ? 'unauthorized'
              : 'http_error'
    const message =
      code === 'invalid_json'
        ? 'Malformed JSON in request body'
        : err.message || 'Request could not be processed'
    return c.json({ error: message, code }, status)
  }
  const fault = databaseInputFault(err, log)
  if (fault) return c.json(errorBody(fault), fault.status)
  // The logger's error serializer keeps the class, message, code and stack, never the values (error-log.ts).
  log.error({ err }, 'unhandled error')
  return c.json({ error: 'Internal server error', code: 'internal' }, 500)
}

const ERROR_DESCRIPTIONS = {
  400: 'Malformed request, or an organization must be named',
  401: 'Missing, unknown or revoked API key',
  403: 'The API key may not do this',
  404: 'Not found, or not reachable by this API key',
  409: 'Conflicts with the current state',
  413: 'Request body too large',
  415: 'Request body is not JSON',
  422: 'Invalid input; `details` names each offending field',
  502: 'The vendor or endpoint answered with an error',
} as const

/** OpenAPI response entries for the given error statuses, all in the one error shape. */
export function errorResponses<S extends keyof typeof ERROR_DESCRIPTIONS>(...statuses: S[]) {
  const out = {} as Record<
    S,
    { description: string; content: { 'application/json': { schema: typeof errorSchema } } }
  >
  for (const s of statuses) {
    out[s] = { description: ERROR_DESCRIPTIONS[s], content: { 'application/json': { schema: errorSchema } } }
  }
  return out
}
