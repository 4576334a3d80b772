/** Route-definition and handler fragments every route module may use. */

import type { z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { AuditContext } from '../../integrations/service.ts'
import type { AppEnv } from '../env.ts'
import { actorOf } from '../principal.ts'

/** A JSON response of the route definition. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
})

/** A JSON request body of the route definition; `required: false` lets the caller send none. */
export function jsonBody<T extends z.ZodType, R extends boolean = true>(schema: T, required: R = true as R) {
  return { required, content: { 'application/json': { schema } } }
}

/** Who acts, for the audit log: the request's API key, with its request id. */
export function auditOf(c: Context<AppEnv>): AuditContext {
  return { actor: actorOf(c.var.principal), requestId: c.var.requestId }
}
