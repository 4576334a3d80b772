import path from 'node:path'
import ipaddr from 'ipaddr.js'
import { z } from 'zod'
import { parseKeyRing } from './vault/keyring.ts'

const intFromEnv = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def)

const durationMs = (def: number) => z.coerce.number().int().min(0).default(def)

/**
 * Every setting Patchbay reads from its environment, parsed once. A bad value is reported together with
 * every other bad value, so an operator fixes them in one go.
 */
export const configSchema = z.object({
  PORT: intFromEnv(8080, 0, 65535),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_POOL_SIZE: intFromEnv(10, 1, 500),
  // Checked here, with everything else, so a bad key ring is reported before anything is created or opened.
  PATCHBAY_ENCRYPTION_KEYS: z
    .string()
    .superRefine((spec, ctx) => {
      try {
        parseKeyRing(spec)
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          message: (err as Error).message.replace(/^PATCHBAY_ENCRYPTION_KEYS:? ?/, ''),
        })
      }
    })
    .optional(),
  PATCHBAY_BOOTSTRAP_TOKEN: z.string().min(24, 'must be at least 24 characters').optional(),
  PATCHBAY_ALLOWED_TARGET_CIDRS: z
    .string()
    .default('')
    .superRefine((value, ctx) => {
      for (const cidr of value
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean)) {
        if (!ipaddr.isValidCIDR(cidr))
          ctx.addIssue({ code: 'custom', message: `"${cidr}" is not a CIDR range (e.g. 10.0.0.0/8)` })
      }
    }),
  PATCHBAY_MAX_BODY_BYTES: intFromEnv(1_048_576, 1024, 64 * 1_048_576),
  PATCHBAY_MAX_BATCH_BODY_BYTES: intFromEnv(8 * 1_048_576, 1024, 256 * 1_048_576),
  PATCHBAY_CONSOLE_URL: z.string().url().optional(),
  PATCHBAY_DELIVERY_TIMEOUT_MS: durationMs(30_000),
  PATCHBAY_DELIVERY_CONCURRENCY: intFromEnv(256, 1, 10_000),
  PATCHBAY_TARGET_CONCURRENCY: intFromEnv(16, 1, 1_000),
  /** How long a worker holds a claimed delivery; defaults to the delivery timeout plus 30 s. */
  PATCHBAY_DELIVERY_LEASE_MS: z.coerce.number().int().min(1000).optional(),
  PATCHBAY_WEBHOOK_FAILURE_THRESHOLD: intFromEnv(20, 1, 1_000_000),
  PATCHBAY_DELIVERY_RETENTION_DAYS: intFromEnv(30, 1, 3650),
  PATCHBAY_PROBE_INTERVAL_MS: durationMs(5 * 60_000),
  PATCHBAY_PROBE_FAILURE_THRESHOLD: intFromEnv(3, 1, 1000),
  PATCHBAY_PSA_SYNC_INTERVAL_MS: durationMs(15 * 60_000),
  /** How long an action waits for approval before it expires, never sent (README, "Actions and approvals"). */
  PATCHBAY_ACTION_APPROVAL_TTL_MS: z.coerce
    .number()
    .int()
    .min(60_000)
    .default(24 * 3_600_000),
  PATCHBAY_JOB_CONCURRENCY: intFromEnv(16, 1, 1_000),
  PATCHBAY_JOB_GROUP_CONCURRENCY: intFromEnv(4, 1, 1_000),
  /** The address vendors reach Patchbay at, for inbound webhook URLs; without it they are built from the request. */
  PATCHBAY_PUBLIC_URL: z
    .string()
    .url()
    .regex(/^https?:\/\//, 'must be an http(s) URL')
    .transform((s) => s.replace(/\/+$/, ''))
    .optional(),
  PATCHBAY_INBOUND_MAX_BODY_BYTES: intFromEnv(1_048_576, 1024, 64 * 1_048_576),
  PATCHBAY_INBOUND_RETENTION_DAYS: intFromEnv(30, 1, 3650),
  /** Rejected (badly signed) requests per source and minute answered 401 and logged; more are answered 429. */
  PATCHBAY_INBOUND_REJECT_LIMIT: intFromEnv(20, 1, 100_000),
  /**
   * Bearer token for `GET /metrics` (Prometheus text). Unset: the endpoint answers 404. A wrong or missing token: 401.
   */
  PATCHBAY_METRICS_TOKEN: z.string().min(24, 'must be at least 24 characters').optional(),
  /** Event-ingest requests per API key and minute (POST /events, /events/batch), unless the key sets its own. */
  PATCHBAY_RATE_LIMIT_INGEST: intFromEnv(60_000, 1, 100_000_000),
  /** Every other /api/v1 request per API key and minute (configuration and reads), unless the key sets its own. */
  PATCHBAY_RATE_LIMIT_CONFIG: intFromEnv(6_000, 1, 100_000_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
})

export type Config = z.infer<typeof configSchema> & { dataDir: string }

type SettingName = keyof typeof configSchema.shape

/**
 * What each setting means, for the README's configuration table (`npm run docs:config` writes it; a test keeps
 * the two in step). Typed by the schema, so a new setting cannot be left out. `default` replaces the default
 * read from the schema where a sentence says more.
 */
export const CONFIG_DOCS: Record<SettingName, { meaning: string; default?: string }> = {
  PORT: { meaning: 'where the API listens (`0`: any free port)' },
  HOST: { meaning: 'the address the API listens on' },
  DATA_DIR: {
    meaning:
      "used when `DATABASE_URL` is unset: the embedded PostgreSQL server's cluster (`postgres/`), its generated password (`postgres.password`, mode 0600) and log (`postgres.log`), and the key ring (`keyring`); one Patchbay process at a time",
  },
  DATABASE_URL: {
    meaning: 'a served PostgreSQL 15+ (`postgres://…`); then `PATCHBAY_ENCRYPTION_KEYS` is required',
  },
  DATABASE_POOL_SIZE: { meaning: 'connections per process to the database (embedded or served)' },
  PATCHBAY_ENCRYPTION_KEYS: {
    default: 'generated (embedded only)',
    meaning:
      'key ring `id:base64key,id:base64key`, first is active; keys are 32 bytes (`openssl rand -base64 32`)',
  },
  PATCHBAY_BOOTSTRAP_TOKEN: {
    meaning:
      'if set and no system key exists, a system API key with exactly this token (24+ characters) is created at start',
  },
  PATCHBAY_ALLOWED_TARGET_CIDRS: {
    default: 'empty',
    meaning:
      'comma-separated CIDRs exempt from the private-address block for outbound requests, where plain `http` is also accepted (self-hosted LANs, tests); the start log warns when set',
  },
  PATCHBAY_MAX_BODY_BYTES: { meaning: 'largest request body (413 beyond)' },
  PATCHBAY_MAX_BATCH_BODY_BYTES: { meaning: 'largest body for `…/batch` routes' },
  PATCHBAY_CONSOLE_URL: {
    meaning:
      "the console's base URL; tickets, notes and chat messages link to `<url>/alerts/<alertId>` (or `<url>/devices/<deviceId>`) when set",
  },
  PATCHBAY_DELIVERY_TIMEOUT_MS: { meaning: 'how long one delivery attempt may take' },
  PATCHBAY_DELIVERY_CONCURRENCY: { meaning: 'delivery attempts in flight at once per process' },
  PATCHBAY_TARGET_CONCURRENCY: {
    meaning: 'delivery attempts in flight at once per target (webhook or integration)',
  },
  PATCHBAY_DELIVERY_LEASE_MS: {
    default: 'twice the timeout + 30 s',
    meaning: 'how long a worker holds a claimed delivery; after it, another worker attempts it again',
  },
  PATCHBAY_WEBHOOK_FAILURE_THRESHOLD: {
    meaning: 'dead-lettered deliveries in a row that mark a webhook `failed` (a success resets the count)',
  },
  PATCHBAY_DELIVERY_RETENTION_DAYS: {
    meaning: 'how long finished deliveries (and events no delivery needs) are kept',
  },
  PATCHBAY_ACTION_APPROVAL_TTL_MS: {
    meaning: 'how long an action waits for approval before it expires, never sent (at least 60000)',
  },
  PATCHBAY_METRICS_TOKEN: {
    meaning: 'bearer token (24+ characters) for `GET /metrics`; unset: `/metrics` answers 404 (see Metrics)',
  },
  PATCHBAY_RATE_LIMIT_INGEST: {
    meaning:
      'event-ingest requests (`POST /events`, `/events/batch`) per API key and minute, unless the key sets its own (see Rate limits)',
  },
  PATCHBAY_RATE_LIMIT_CONFIG: {
    meaning: 'every other `/api/v1` request per API key and minute, unless the key sets its own',
  },
  PATCHBAY_PROBE_INTERVAL_MS: {
    meaning: 'how often each active integration is health-probed; `0` turns probes off',
  },
  PATCHBAY_PROBE_FAILURE_THRESHOLD: {
    meaning: 'probe failures in a row that move an active integration to `error`',
  },
  PATCHBAY_PSA_SYNC_INTERVAL_MS: {
    meaning: 'how often PSA ticket statuses are synced into ticket mappings; `0` turns scheduled syncs off',
  },
  PATCHBAY_JOB_CONCURRENCY: {
    meaning: 'background jobs (verifications, probes, syncs…) running at once per process',
  },
  PATCHBAY_JOB_GROUP_CONCURRENCY: {
    meaning:
      'jobs of one group (one provider) running at once per process, so one slow vendor cannot take every slot',
  },
  PATCHBAY_PUBLIC_URL: {
    meaning:
      "the address vendors reach Patchbay at; inbound webhook URLs are `<url>/hooks/<id>`. Unset: built from each request's host, and the start log warns",
  },
  PATCHBAY_INBOUND_MAX_BODY_BYTES: { meaning: 'largest inbound webhook body (413 beyond)' },
  PATCHBAY_INBOUND_RETENTION_DAYS: {
    meaning: 'how long received inbound webhook events (bodies included) are kept',
  },
  PATCHBAY_INBOUND_REJECT_LIMIT: {
    meaning: 'badly signed requests per source and minute answered 401 and logged; more are answered 429',
  },
  LOG_LEVEL: { meaning: '`fatal`, `error`, `warn`, `info`, `debug`, `trace`, `silent`' },
}

/** The README's configuration table, generated from the schema and CONFIG_DOCS. */
export function configTable(): string {
  const rows = Object.entries(CONFIG_DOCS).map(([name, doc]) => {
    const schema = configSchema.shape[name as SettingName]
    const parsed = schema.safeParse(undefined)
    const value = parsed.success ? parsed.data : undefined
    const shown =
      doc.default ??
      (value === undefined || value === '' ? (value === '' ? 'empty' : '—') : `\`${String(value)}\``)
    return `| \`${name}\` | ${shown} | ${doc.meaning} |`
  })
  return ['| setting | default | meaning |', '|---|---|---|', ...rows].join('\n')
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings are how shells and compose files say "unset".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = configSchema.safeParse(cleaned)
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`))
  }
  return { ...parsed.data, dataDir: path.resolve(parsed.data.DATA_DIR) }
}
