import type { z } from 'zod'
import { credentialParser, defineConnector, missingCredential } from '../define.ts'
import type { Connector, ConnectorEnv, VerifyResult } from '../types.ts'
import { callVendor, sensitiveValues } from '../vendor-http.ts'

const credentialSchema = {
  endpoint: {
    type: 'url',
    sensitive: false,
    destination: true,
    required: true,
    description: 'The URL that receives events and telemetry as JSON POST requests',
  },
  apiKey: {
    type: 'string',
    sensitive: true,
    required: false,
    description: 'Sent as `Authorization: Bearer <apiKey>` when set',
  },
} as const

const credentials = credentialParser(credentialSchema, missingCredential('Monitoring endpoint'))
type Creds = z.infer<typeof credentials.schema>

/**
 * Any HTTP endpoint that accepts JSON events (an observability platform's ingest URL, a collector, a custom
 * receiver). There is no vendor API to ask "are these credentials good?", so the check is the real thing: a
 * small JSON event POSTed to the endpoint, which must answer 2xx. Verification sends `patchbay.test`; the
 * health probe sends `patchbay.heartbeat`, which receivers can use as a liveness signal or ignore.
 */
export const genericMonitoring: Connector = defineConnector(credentials, {
  descriptor: {
    id: 'generic-monitoring',
    displayName: 'Monitoring endpoint',
    category: 'monitoring',
    capabilities: ['forward_events'],
    credentialSchema: { ...credentialSchema },
  },
  verify: (credentials, env) => send(credentials, env, 'patchbay.test'),
  probe: (credentials, env) => send(credentials, env, 'patchbay.heartbeat'),
  forwarding: { post: (credentials, body, env, opts) => postToEndpoint(credentials, body, env, opts) },
})

async function send(credentials: Creds, env: ConnectorEnv, type: string): Promise<VerifyResult> {
  await postToEndpoint(
    credentials,
    { type, source: 'patchbay', timestamp: env.clock.now().toISOString(), data: {} },
    env,
  )
  return { ok: true }
}

/**
 * POSTs one JSON body to the endpoint, with `Authorization: Bearer <apiKey>` when a key is set. Resolves with the
 * endpoint's status on 2xx; anything else is a VendorError with the endpoint's own text (the key scrubbed out) and
 * its Retry-After. Used by verification, probes and telemetry forwarding (src/monitoring/transport.ts).
 */
export async function postToEndpoint(
  credentials: Creds,
  body: unknown,
  env: ConnectorEnv,
  opts: { timeoutMs?: number } = {},
): Promise<{ status: number; body: string }> {
  const apiKey = credentials.apiKey
  const res = await callVendor(env, {
    vendor: 'Monitoring endpoint',
    method: 'POST',
    url: credentials.endpoint,
    headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
    body,
    secrets: sensitiveValues(credentialSchema, credentials),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
  })
  const text =
    typeof res.data === 'string' ? res.data : res.data === undefined ? '' : JSON.stringify(res.data)
  return { status: res.status, body: res.scrub(text).slice(0, 1000) }
}
