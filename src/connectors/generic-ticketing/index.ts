import type { Connector, ConnectorEnv, Credentials, VerifyResult } from '../types.ts'
import { callVendor, sensitiveValues } from '../vendor-http.ts'

const credentialSchema = {
  apiUrl: {
    type: 'url',
    sensitive: false,
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

/**
 * A ticketing system not covered by a dedicated PSA connector. Generic ticketing APIs share no "who am I"
 * endpoint, so verification is `GET <apiUrl>` with `Authorization: Bearer <apiKey>`: the API must answer
 * 2xx to an authenticated request on its base URL. A 401/403 (or any non-2xx) fails verification with the
 * endpoint's own error text.
 */
export const genericTicketing: Connector = {
  descriptor: {
    id: 'generic-ticketing',
    displayName: 'Ticketing endpoint',
    category: 'ticketing',
    capabilities: ['create_ticket', 'update_ticket_status', 'add_ticket_note'],
    credentialSchema: { ...credentialSchema },
  },
  verify: check,
}

async function check(credentials: Credentials, env: ConnectorEnv): Promise<VerifyResult> {
  await callVendor(env, {
    vendor: 'Ticketing endpoint',
    url: String(credentials.apiUrl),
    headers: { authorization: `Bearer ${String(credentials.apiKey)}` },
    secrets: sensitiveValues(credentialSchema, credentials),
  })
  return { ok: true }
}
