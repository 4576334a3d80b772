import type { MiddlewareHandler } from 'hono'
import type { AppContext } from '../context.ts'
import { findKeyById, findKeyByToken, touchApiKey } from '../store/tenancy.ts'
import type { AppEnv } from './env.ts'
import { ApiError } from './errors.ts'
import type { Principal } from './principal.ts'

/**
 * Bearer-token authentication: the token's key must exist and not be revoked.
 *
 * The console (src/console) calls these same routes in-process with `app.request(path, init, { consoleKeyId })`:
 * its session resolved to a key id, which arrives here as a binding, not a header. Requests from the network
 * never carry it (the node server's bindings are its own request and response objects), so it cannot be forged;
 * the key is looked up again on every call, so a revoked key stops working in the console at once.
 */
export function authenticate(ctx: AppContext): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const consoleKeyId = c.env?.consoleKeyId
    let found: Awaited<ReturnType<typeof findKeyByToken>>
    if (typeof consoleKeyId === 'string') {
      found = await findKeyById(ctx.db.orm, consoleKeyId)
      if (!found) throw new ApiError(401, 'unauthorized', 'Invalid or revoked API key')
    } else {
      const header = c.req.header('authorization') ?? ''
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
      if (!match) throw new ApiError(401, 'unauthorized', 'Missing bearer token')
      found = await findKeyByToken(ctx.db.orm, match[1] as string)
      if (!found) throw new ApiError(401, 'unauthorized', 'Invalid or revoked API key')
    }
    const { key, orgPartnerId } = found
    let principal: Principal
    if (key.scope === 'system') principal = { scope: 'system', keyId: key.id }
    else if (key.scope === 'partner')
      principal = { scope: 'partner', keyId: key.id, partnerId: key.partnerId as string }
    else
      principal = {
        scope: 'organization',
        keyId: key.id,
        orgId: key.orgId as string,
        partnerId: orgPartnerId,
      }
    c.set('principal', principal)
    c.set('keyRateLimits', { ingest: key.rateLimitIngest, configuration: key.rateLimitConfig })
    c.set('log', c.var.log.child({ keyId: key.id }))
    await touchApiKey(ctx.db.orm, key, ctx.clock.now())
    await next()
  }
}
