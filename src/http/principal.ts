import type { Actor } from '../store/audit.ts'
import type { Executor } from '../store/db.ts'
import type { TenantScope } from '../store/scope.ts'
import { getOrg } from '../store/tenancy.ts'
import { ApiError } from './errors.ts'

/** The caller, as its API key describes it. */
export type Principal = { keyId: string } & (
  | { scope: 'system' }
  | { scope: 'partner'; partnerId: string }
  | { scope: 'organization'; orgId: string; partnerId: string | null }
)

export function scopeOf(p: Principal): TenantScope {
  switch (p.scope) {
    case 'system':
      return { kind: 'system' }
    case 'partner':
      return { kind: 'partner', partnerId: p.partnerId }
    case 'organization':
      return { kind: 'org', orgId: p.orgId }
  }
}

export function actorOf(p: Principal): Actor {
  switch (p.scope) {
    case 'system':
      return { type: 'api_key', keyId: p.keyId }
    case 'partner':
      return { type: 'api_key', keyId: p.keyId, partnerId: p.partnerId }
    case 'organization':
      return { type: 'api_key', keyId: p.keyId, orgId: p.orgId }
  }
}

/**
 * The one organization a request acts on. An org key acts on its own organization (naming another is a 404,
 * as if it did not exist); partner and system keys must name one they can reach.
 */
export async function resolveOrgId(
  db: Executor,
  p: Principal,
  requested: string | undefined | null,
): Promise<string> {
  if (p.scope === 'organization') {
    if (requested && requested !== p.orgId) throw ApiError.notFound('Organization')
    return p.orgId
  }
  if (!requested) throw ApiError.orgContextRequired()
  const org = await getOrg(db, scopeOf(p), requested)
  if (!org) throw ApiError.notFound('Organization')
  return org.id
}

/** Like resolveOrgId, but an absent orgId means "everything the caller can reach" for list routes. */
export async function resolveOrgFilter(
  db: Executor,
  p: Principal,
  requested: string | undefined,
): Promise<string | undefined> {
  if (requested === undefined) return p.scope === 'organization' ? p.orgId : undefined
  return resolveOrgId(db, p, requested)
}
