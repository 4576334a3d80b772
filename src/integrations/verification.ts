import { MemoryTokenCache } from '../connectors/shared/token-cache.ts'
import type { Connector, ConnectorEnv, Credentials, TokenCache } from '../connectors/types.ts'
import { type TransportFailure, VendorError } from '../connectors/vendor-error.ts'
import type { AppContext } from '../context.ts'
import { scrubSecrets } from '../lib/redact.ts'
import type { HttpClient } from '../net/http-client.ts'
import { DatabaseRequestBudget } from '../store/request-budget.ts'
import { secretValues } from './credentials.ts'

/** What a verification or probe found. `error` is the vendor's own text, with every credential removed. */
export interface CheckOutcome {
  ok: boolean
  error?: string
  /** The vendor's HTTP status, when it answered (on success too: the status of its last answer). */
  httpStatus?: number
  /** What failed when no vendor answered (DNS, connection, TLS, timeout, a refused URL). */
  failure?: TransportFailure
  /** A rate limit, timeout or outage: worth trying again. Rejected credentials are not. */
  retryable: boolean
  retryAfterMs?: number
  /** Who the credentials belong to, when the vendor says. */
  account?: string
  /** What the user should change (a detected region or host), when the connector found something better. */
  advice?: string
  suggestedCredentials?: Record<string, string>
  /** When the credentials expire (ISO 8601), and a warning once that is close, for credentials that expire. */
  expiresAt?: string
  warning?: string
  latencyMs: number
}

/** Token caches of contexts built without one (tests, tools): one per context, so tokens outlive a call. */
const fallbackTokens = new WeakMap<AppContext, TokenCache>()

/** The one place a ConnectorEnv is built: the context's HTTP client, clock, token cache and request budget. */
export function connectorEnv(ctx: AppContext, provider: string): ConnectorEnv {
  let tokens = ctx.tokens ?? fallbackTokens.get(ctx)
  if (!tokens) {
    tokens = new MemoryTokenCache(() => ctx.clock.now().getTime())
    fallbackTokens.set(ctx, tokens)
  }
  return {
    http: ctx.http,
    clock: ctx.clock,
    log: ctx.log.child({ provider }),
    tokens,
    budget: ctx.budget ?? new DatabaseRequestBudget(ctx.db.orm, ctx.clock),
  }
}

/** What a successful check says about the credentials' expiry, as the integration row keeps it. */
export function expiryFields(outcome: CheckOutcome): {
  credentialsExpireAt: Date | null
  warning: string | null
} {
  const at = outcome.expiresAt ? new Date(outcome.expiresAt) : null
  return {
    credentialsExpireAt: at && !Number.isNaN(at.getTime()) ? at : null,
    warning: outcome.warning ?? null,
  }
}

function retryableStatus(status: number | undefined): boolean {
  return status === 408 || status === 425 || status === 429 || (status !== undefined && status >= 500)
}

/**
 * Runs a connector's `verify` (or `probe`, which defaults to `verify`). A `VendorError` thrown by the connector
 * counts as a failed check with the vendor's message; any other exception too, with its message. Every text that
 * leaves here has the credential values scrubbed out, whatever the connector did.
 */
export async function checkConnector(
  ctx: AppContext,
  connector: Connector,
  credentials: Credentials,
  kind: 'verify' | 'probe',
): Promise<CheckOutcome> {
  const secrets = secretValues(connector.descriptor.credentialSchema, credentials)
  const scrub = (text: string) => scrubSecrets(text, secrets).slice(0, 2000)
  // The status of the vendor's last answer, so a success reports it as a failure does (the connectors' verify
  // results say only ok or not).
  let lastStatus: number | undefined
  const base = connectorEnv(ctx, connector.descriptor.id)
  const env: ConnectorEnv = {
    ...base,
    http: new Proxy(base.http, {
      get(target, prop) {
        if (prop === 'request') {
          return async (req: Parameters<HttpClient['request']>[0]) => {
            const res = await target.request(req)
            lastStatus = res.status
            return res
          }
        }
        const value: unknown = Reflect.get(target, prop, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    }),
  }
  const started = performance.now()
  const latency = () => Math.round(performance.now() - started)
  try {
    const check = kind === 'probe' && connector.probe ? connector.probe : connector.verify
    const result = await check.call(connector, credentials, env)
    if (result.ok) {
      return {
        ok: true,
        retryable: false,
        latencyMs: latency(),
        ...(lastStatus !== undefined ? { httpStatus: lastStatus } : {}),
        ...(result.account ? { account: scrub(result.account) } : {}),
        ...(result.advice ? { advice: scrub(result.advice) } : {}),
        ...(result.suggestedCredentials ? { suggestedCredentials: result.suggestedCredentials } : {}),
        ...(result.expiresAt ? { expiresAt: result.expiresAt } : {}),
        ...(result.warning ? { warning: scrub(result.warning) } : {}),
      }
    }
    return {
      ok: false,
      error: scrub(result.error),
      // No answer at all (DNS, connection, timeout) is worth trying again, unless Patchbay refused the URL.
      retryable: result.failure ? result.failure !== 'blocked' : retryableStatus(result.status),
      latencyMs: latency(),
      ...(result.status !== undefined
        ? { httpStatus: result.status }
        : result.failure === undefined && lastStatus !== undefined
          ? { httpStatus: lastStatus }
          : {}),
      ...(result.failure !== undefined ? { failure: result.failure } : {}),
    }
  } catch (err) {
    const latencyMs = latency()
    if (err instanceof VendorError) {
      return {
        ok: false,
        error: scrub(err.message),
        retryable: err.retryable,
        latencyMs,
        // A vendor that answered 2xx with something unusable: its status is still what it answered.
        ...(err.status !== undefined
          ? { httpStatus: err.status }
          : err.failure === undefined && lastStatus !== undefined
            ? { httpStatus: lastStatus }
            : {}),
        ...(err.failure !== undefined ? { failure: err.failure } : {}),
        ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
      }
    }
    const message = scrub(err instanceof Error ? err.message : String(err))
    env.log.warn({ error: message }, `${kind} raised an unexpected error`)
    return {
      ok: false,
      error: `${connector.descriptor.displayName}: ${message}`,
      retryable: false,
      latencyMs,
    }
  }
}
