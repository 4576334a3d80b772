import type { ContentfulStatusCode } from 'hono/utils/http-status'

/**
 * An error that already knows the status, code and sentence the API answers with. It lives here rather than in
 * http/ so that feature folders (webhooks, inbound) can refuse a request without importing the HTTP layer;
 * http/errors.ts re-exports it and turns it into the response.
 */
export interface ErrorDetail {
  path: string
  message: string
}

export class ApiError extends Error {
  override name = 'ApiError'
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message)
  }

  static notFound(what = 'Resource'): ApiError {
    return new ApiError(404, 'not_found', `${what} not found`)
  }

  static orgContextRequired(): ApiError {
    return new ApiError(400, 'org_context_required', 'Organization context required')
  }

  static forbidden(message = 'This API key may not do that'): ApiError {
    return new ApiError(403, 'forbidden', message)
  }

  static invalid(path: string, message: string, status: ContentfulStatusCode = 422): ApiError {
    return new ApiError(status, 'validation_failed', `Validation failed: ${path}: ${message}`, [
      { path, message },
    ])
  }

  static conflict(message: string): ApiError {
    return new ApiError(409, 'conflict', message)
  }
}
