import type { CredentialField, CredentialSchema } from '../../vault/mask.ts'
import type {
  ConnectorDescriptor,
  ConnectorEnv,
  Credentials,
  NamedRef,
  TicketOperations,
  TypedConnector,
  VerifyResult,
} from '../types.ts'
import { callVendor, sensitiveValues, type VendorCall, type VendorResponse } from '../vendor-http.ts'
import { obj, str, withQuery } from './json.ts'
import { parseLinkHeader } from './link-header.ts'

/** What the PSA and ticketing connectors share; each vendor's quirks stay in its own folder. */

/** The capabilities of a PSA connector that supports every ticket operation. */
export const PSA_CAPABILITIES: readonly string[] = [
  'create_ticket',
  'update_ticket_status',
  'add_ticket_note',
  'list_companies',
  'list_queues',
  'sync_tickets',
]

/** The optional `baseUrl` override every vendor connector accepts; `description` says what is appended to it. */
export function baseUrlField(description: string): CredentialField {
  return { type: 'url', sensitive: false, destination: true, required: false, description }
}

/** A PSA connector: its descriptor (category `psa`), with verify also used as the health probe. */
export function psaConnector<C = Credentials>(spec: {
  id: string
  displayName: string
  capabilities?: readonly string[]
  credentialSchema: CredentialSchema
  credentialRules?: ConnectorDescriptor['credentialRules']
  docsUrl: string
  verify: (credentials: C, env: ConnectorEnv) => Promise<VerifyResult>
  tickets: TicketOperations<C>
}): TypedConnector<C> {
  const descriptor: ConnectorDescriptor = {
    id: spec.id,
    displayName: spec.displayName,
    category: 'psa',
    capabilities: [...(spec.capabilities ?? PSA_CAPABILITIES)],
    credentialSchema: spec.credentialSchema,
    ...(spec.credentialRules ? { credentialRules: spec.credentialRules } : {}),
    docsUrl: spec.docsUrl,
  }
  return { descriptor, verify: spec.verify, probe: spec.verify, tickets: spec.tickets }
}

/** The per-call options of a connector's `call`: query parameters (appended with `withQuery`) and a body. */
export interface CallOptions {
  query?: Record<string, string | number | undefined>
  body?: unknown
}

/**
 * One call authenticated by an `Authorization` header (Basic or Bearer). The sensitive credential fields and the
 * header's token are removed from any error text.
 */
export function callAuthorized<T = unknown>(
  env: ConnectorEnv,
  call: {
    vendor: string
    method: NonNullable<VendorCall['method']>
    /** Base URL and path, without the query. */
    url: string
    authorization: string
    /** Headers besides `authorization`. */
    headers?: Record<string, string>
    credentialSchema: CredentialSchema
    creds: Credentials
    errorText: NonNullable<VendorCall['errorText']>
  } & CallOptions,
): Promise<VendorResponse<T>> {
  const { authorization } = call
  return callVendor<T>(env, {
    vendor: call.vendor,
    method: call.method,
    url: withQuery(call.url, call.query ?? {}),
    headers: { authorization, ...call.headers },
    ...(call.body !== undefined ? { body: call.body } : {}),
    // `Basic <token>` or `Bearer <token>`: the token is a secret too.
    secrets: [...sensitiveValues(call.credentialSchema, call.creds), authorization.replace(/^\w+ /, '')],
    errorText: call.errorText,
  })
}

/** Whether another page follows: the Link header says so, or (without one) the page was full. */
export function hasNextPage(headers: Record<string, string>, count: number, pageSize: number): boolean {
  if (headers.link !== undefined) return parseLinkHeader(headers.link).next !== undefined
  return count >= pageSize
}

/** The rows that have an id, as references; a row without a name is named by its id. */
export function namedRefs(rows: readonly unknown[], idField = 'id', nameField = 'name'): NamedRef[] {
  return rows.flatMap((r): NamedRef[] => {
    const id = str(obj(r)?.[idField])
    return id ? [{ id, name: str(obj(r)?.[nameField]) ?? id }] : []
  })
}
