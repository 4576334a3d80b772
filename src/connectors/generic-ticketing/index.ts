import type { z } from 'zod'
import { credentialParser, defineConnector, missingCredential } from '../define.ts'
import type { Connector, ConnectorEnv, CreatedGenericTicket, GenericTicket, VerifyResult } from '../types.ts'
import { callVendor, sensitiveValues } from '../vendor-http.ts'

const credentialSchema = {
  apiUrl: {
    type: 'url',
    sensitive: false,
    destination: true,
    required: true,
    description: "The ticketing system's API base URL",
  },
  apiKey: {
    type: 'string',
    sensitive: true,
    required: true,
    description: 'Sent as `Authorization: Bearer <apiKey>`',
  },
  projectKey: {
    type: 'string',
    sensitive: false,
    required: false,
    description: 'The project or queue new tickets go to',
  },
} as const

const credentials = credentialParser(credentialSchema, missingCredential('Ticketing endpoint'))
type Creds = z.infer<typeof credentials.schema>

/**
 * A ticketing system not covered by a dedicated PSA connector. Generic ticketing APIs share no "who am I"
 * endpoint, so verification is `GET <apiUrl>` with `Authorization: Bearer <apiKey>`: the API must answer
 * 2xx to an authenticated request on its base URL. A 401/403 (or any non-2xx) fails verification with the
 * endpoint's own error text.
 */
export const genericTicketing: Connector = defineConnector(credentials, {
  descriptor: {
    id: 'generic-ticketing',
    displayName: 'Ticketing endpoint',
    category: 'ticketing',
    capabilities: ['create_ticket', 'update_ticket_status', 'add_ticket_note'],
    credentialSchema: { ...credentialSchema },
  },
  verify: check,
  genericTickets: {
    create: (credentials, ticket, env, opts) => createGenericTicket(credentials, ticket, env, opts),
  },
})

async function check(credentials: Creds, env: ConnectorEnv): Promise<VerifyResult> {
  await callVendor(env, {
    vendor: 'Ticketing endpoint',
    url: credentials.apiUrl,
    headers: { authorization: `Bearer ${credentials.apiKey}` },
    secrets: sensitiveValues(credentialSchema, credentials),
  })
  return { ok: true }
}

export type { CreatedGenericTicket, GenericTicket } from '../types.ts'

/**
 * `POST <apiUrl>/tickets` with the ticket as JSON, `Authorization: Bearer <apiKey>` and `Idempotency-Key`: the
 * same key on every attempt for one alert, so an API that honours the header (the IETF httpapi draft
 * https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/) turns a retry after a lost answer
 * into the first ticket instead of a second one. Non-2xx is a VendorError with the API's own text.
 */
export async function createGenericTicket(
  credentials: Creds,
  ticket: GenericTicket,
  env: ConnectorEnv,
  opts: { idempotencyKey: string; timeoutMs?: number },
): Promise<CreatedGenericTicket> {
  const secrets = sensitiveValues(credentialSchema, credentials)
  const res = await callVendor<unknown>(env, {
    vendor: 'Ticketing endpoint',
    method: 'POST',
    url: `${credentials.apiUrl.replace(/\/+$/, '')}/tickets`,
    headers: {
      authorization: `Bearer ${credentials.apiKey}`,
      'idempotency-key': opts.idempotencyKey,
    },
    body: ticket,
    secrets,
    // Generated per alert, not a credential: a receiver that echoes it keeps a readable answer.
    publicHeaders: ['idempotency-key'],
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
  })
  const data = res.data && typeof res.data === 'object' ? (res.data as Record<string, unknown>) : {}
  const pick = (...keys: string[]) => {
    for (const k of keys) {
      const v = data[k]
      if ((typeof v === 'string' && v.trim()) || (typeof v === 'number' && Number.isFinite(v)))
        return String(v)
    }
    return undefined
  }
  const id = pick('id', 'key', 'number')
  const url = pick('url', 'html_url', 'self')
  const text =
    typeof res.data === 'string' ? res.data : res.data === undefined ? '' : JSON.stringify(res.data)
  return {
    status: res.status,
    ...(id ? { id } : {}),
    ...(url ? { url } : {}),
    body: res.scrub(text).slice(0, 1000),
  }
}
