import type { Credentials } from '../connectors/types.ts'
import type { VendorError } from '../connectors/vendor-error.ts'
import type { AppContext } from '../context.ts'
import { classifyStatus } from '../delivery/policy.ts'
import type { AttemptOutcome, ClaimedDelivery } from '../delivery/types.ts'
import { openCredentials, secretValues } from '../integrations/credentials.ts'
import { scrubSecrets } from '../lib/redact.ts'

/**
 * An integration as the integration-backed transports (chat notifications, monitoring forwards, ticket creation)
 * see it at attempt time: its current settings and decrypted credentials, so a changed webhook URL or API key
 * applies from the next claimed batch, and a manual retry after fixing the credentials uses the fixed ones.
 */
export interface IntegrationTarget {
  id: string
  orgId: string
  orgName: string | null
  provider: string
  status: string
  deleted: boolean
  settings: Record<string, unknown>
  /** Null once the integration is deleted (its credentials are erased). */
  credentials: Credentials | null
  /** Every form of every sensitive credential value, to scrub from texts that are stored or logged. */
  secrets: string[]
}

interface TargetRow {
  id: string
  org_id: string
  org_name: string | null
  provider: string
  status: string
  deleted_at: Date | null
  settings: Record<string, unknown> | null
  credentials: string | null
}

/** Keeps decrypted credentials by ciphertext across batches (a changed credential is a new ciphertext). */
export class TargetLoader {
  readonly #plain = new Map<string, Credentials>()
  readonly #targets = new Map<string, IntegrationTarget>()

  constructor(private readonly ctx: AppContext) {}

  /** Loads the integrations a claimed batch goes to, replacing what was loaded for them before. */
  async prepare(batch: readonly ClaimedDelivery[]): Promise<void> {
    const ids = [...new Set(batch.map((d) => d.targetId))]
    const rows = await this.ctx.db.query<TargetRow>(
      `SELECT i.id, i.org_id, o.name AS org_name, i.provider, i.status, i.deleted_at, i.settings, i.credentials
       FROM integrations i JOIN orgs o ON o.id = i.org_id
       WHERE i.id = ANY($1::uuid[])`,
      [ids],
      'pb_load_integration_targets',
    )
    for (const id of ids) this.#targets.delete(id)
    for (const r of rows) {
      const credentials = r.credentials ? this.#open(r.id, r.credentials) : null
      const schema = this.ctx.connectors.get(r.provider)?.descriptor.credentialSchema
      this.#targets.set(r.id, {
        id: r.id,
        orgId: r.org_id,
        orgName: r.org_name,
        provider: r.provider,
        status: r.status,
        deleted: r.deleted_at !== null,
        settings: r.settings ?? {},
        credentials,
        secrets: credentials ? secretValues(schema, credentials) : [],
      })
    }
  }

  get(id: string): IntegrationTarget | undefined {
    return this.#targets.get(id)
  }

  #open(id: string, sealed: string): Credentials {
    let creds = this.#plain.get(sealed)
    if (!creds) {
      creds = openCredentials(this.ctx.vault, id, sealed)
      if (this.#plain.size > 10_000) this.#plain.clear()
      this.#plain.set(sealed, creds)
    }
    return creds
  }
}

/**
 * Why a delivery to this integration is not attempted at all, or undefined when it may be. The delivery belongs
 * to the organization that owns the integration; anything else is refused outright.
 */
export function unusable(
  target: IntegrationTarget | undefined,
  d: ClaimedDelivery,
): AttemptOutcome | undefined {
  if (!target || target.deleted || !target.credentials || target.orgId !== d.orgId)
    return { kind: 'failed', errorMessage: 'Integration no longer exists; not sent' }
  if (target.status === 'inactive')
    return { kind: 'failed', errorMessage: 'Integration is disabled (inactive); not sent' }
  return undefined
}

/**
 * A refused or failed vendor call as a delivery outcome. No status: the endpoint was not reached (timeout,
 * connection refused), worth retrying; otherwise the status decides as for webhooks (2xx never gets here, 410 and
 * other 4xx are permanent, 408/409/425/429 and 5xx retried), and the vendor's Retry-After is passed on.
 */
export function vendorFailure(err: VendorError, secrets: readonly string[]): AttemptOutcome {
  const message = scrubSecrets(err.message, secrets).slice(0, 2000)
  const body = 'responseBody' in err && typeof err.responseBody === 'string' ? err.responseBody : undefined
  const base = {
    errorMessage: message,
    ...(err.status !== undefined ? { responseStatus: err.status } : {}),
    ...(body !== undefined ? { responseBody: scrubSecrets(body, secrets) } : {}),
  }
  if (err.status === undefined) return { kind: 'retry', ...base }
  switch (classifyStatus(err.status)) {
    case 'delivered':
    case 'retry':
      return { kind: 'retry', ...base, retryAfterMs: err.retryAfterMs }
    case 'gone':
    case 'permanent':
      return { kind: 'failed', ...base }
  }
}
