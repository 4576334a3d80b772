import { OpenAPIHono } from '@hono/zod-openapi'
import type { Logger } from '../lib/logger.ts'
import { validationError } from './errors.ts'
import type { Principal } from './principal.ts'

export type AppEnv = {
  /** Set only by in-process calls from the console (see auth.ts); undefined over the network. */
  Bindings: { consoleKeyId?: string }
  Variables: {
    principal: Principal
    requestId: string
    log: Logger
    /** The caller's key's own rate limits (requests per minute); null where the key uses the default. */
    keyRateLimits: { ingest: number | null; configuration: number | null }
  }
}

/** A router whose validation failures become the API's 422 error shape, naming each offending field. */
export function router(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const where =
          result.target === 'json' ? 'request body' : result.target === 'query' ? 'query' : result.target
        throw validationError(result.error, where)
      }
    },
  })
}
