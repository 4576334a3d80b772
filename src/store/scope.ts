import { type SQL, sql } from 'drizzle-orm'
import type { AnyPgColumn } from 'drizzle-orm/pg-core'
import { orgs } from './schema/tenancy.ts'

/**
 * Which organizations a caller may reach. Every query on tenant data takes one of these explicitly and
 * narrows by it; nothing reads the tenant from ambient state.
 */
export type TenantScope =
  | { kind: 'system' }
  | { kind: 'partner'; partnerId: string }
  | { kind: 'org'; orgId: string }

/** A condition restricting `orgColumn` to the organizations in `scope`. */
export function inScope(scope: TenantScope, orgColumn: AnyPgColumn): SQL {
  switch (scope.kind) {
    case 'system':
      return sql`true`
    case 'partner':
      return sql`${orgColumn} IN (SELECT ${orgs.id} FROM ${orgs} WHERE ${orgs.partnerId} = ${scope.partnerId})`
    case 'org':
      return sql`${orgColumn} = ${scope.orgId}`
  }
}

export interface Page {
  page: number
  limit: number
}

export function offsetOf(p: Page): number {
  return (p.page - 1) * p.limit
}
