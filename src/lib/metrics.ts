import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/** What the store reports at scrape time (see `readOperationalGauges`). */
export interface OperationalGauges {
  /** Deliveries still to do (pending, retrying or under way). */
  queueDepth: number
  /** Of those, due now and not leased by a worker. */
  queueDue: number
  /** Seconds the oldest due, unleased delivery has been waiting past its due time; 0 when none is due. */
  oldestDueAgeSeconds: number
  /** Targets whose circuit is open (deliveries held back). */
  openCircuits: number
  /** Background jobs by status (pending, running). */
  jobs: Record<string, number>
}

// Attempts are network calls: a few milliseconds to the 30 s timeout.
const ATTEMPT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]

/**
 * This process's Prometheus metrics, on a registry of its own (not prom-client's global one, so several
 * Patchbay contexts in one process, as in tests, never share counters). Counters count what this process did;
 * the queue gauges are read from the database at scrape time, so every process reports the same shared queue.
 */
export class Metrics {
  readonly registry = new Registry()

  readonly httpRequests = new Counter({
    name: 'patchbay_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  })
  readonly httpDuration = new Histogram({
    name: 'patchbay_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  })
  readonly deliveryAttempts = new Counter({
    name: 'patchbay_delivery_attempts_total',
    help: 'Delivery attempts, by target kind and where the attempt left the delivery (delivered, retrying, failed)',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  })
  readonly deliveries = new Counter({
    name: 'patchbay_deliveries_total',
    help: 'Deliveries that reached a final state, by target kind and outcome (delivered, failed)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  })
  readonly attemptDuration = new Histogram({
    name: 'patchbay_delivery_attempt_duration_seconds',
    help: 'Time one delivery attempt took (one request; a batched request counts once), by target kind',
    labelNames: ['kind'] as const,
    buckets: ATTEMPT_BUCKETS,
    registers: [this.registry],
  })
  readonly inboundEvents = new Counter({
    name: 'patchbay_inbound_events_total',
    help: 'Inbound vendor webhook events entering a status (received, rejected, retrying, processed, failed), by provider',
    labelNames: ['provider', 'status'] as const,
    registers: [this.registry],
  })
  readonly probes = new Counter({
    name: 'patchbay_probes_total',
    help: 'Health probes of integrations, by provider and outcome (ok, failed)',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  })
  readonly rateLimited = new Counter({
    name: 'patchbay_rate_limited_total',
    help: 'API requests refused with 429 by the per-key rate limit, by bucket (ingest, configuration)',
    labelNames: ['bucket'] as const,
    registers: [this.registry],
  })
  readonly idempotentReplays = new Counter({
    name: 'patchbay_idempotent_replays_total',
    help: 'POST requests answered from a stored response because their Idempotency-Key was seen before',
    registers: [this.registry],
  })
  readonly #queueDepth = new Gauge({
    name: 'patchbay_delivery_queue_depth',
    help: 'Deliveries still to do (pending, retrying or under way), read from the database at scrape time',
    registers: [this.registry],
  })
  readonly #queueDue = new Gauge({
    name: 'patchbay_delivery_queue_due',
    help: 'Deliveries due now and not yet claimed by a worker, read from the database at scrape time',
    registers: [this.registry],
  })
  readonly #oldestDue = new Gauge({
    name: 'patchbay_delivery_oldest_due_age_seconds',
    help: 'How long the oldest due, unclaimed delivery has waited past its due time (0 when none is due)',
    registers: [this.registry],
  })
  readonly #openCircuits = new Gauge({
    name: 'patchbay_delivery_open_circuits',
    help: 'Targets whose circuit is open: their deliveries are held back after repeated failures',
    registers: [this.registry],
  })
  readonly #jobs = new Gauge({
    name: 'patchbay_jobs',
    help: 'Background jobs waiting or running, by status, read from the database at scrape time',
    labelNames: ['status'] as const,
    registers: [this.registry],
  })

  /** Adds Node's process metrics (CPU, memory, event loop lag, GC); a real process does, test contexts need not. */
  withProcessMetrics(): this {
    collectDefaultMetrics({ register: this.registry, prefix: 'patchbay_' })
    return this
  }

  /** The text a scrape returns, with the database-read gauges set from `gauges`. */
  async render(gauges: OperationalGauges): Promise<string> {
    this.#queueDepth.set(gauges.queueDepth)
    this.#queueDue.set(gauges.queueDue)
    this.#oldestDue.set(gauges.oldestDueAgeSeconds)
    this.#openCircuits.set(gauges.openCircuits)
    this.#jobs.reset()
    for (const status of ['pending', 'running']) this.#jobs.set({ status }, gauges.jobs[status] ?? 0)
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}

const fallback = new WeakMap<object, Metrics>()

/** The context's metrics; a hand-built context without any gets one of its own, kept as long as it lives. */
export function metricsOf(ctx: { metrics?: Metrics | undefined }): Metrics {
  if (ctx.metrics) return ctx.metrics
  let m = fallback.get(ctx)
  if (!m) {
    m = new Metrics()
    fallback.set(ctx, m)
  }
  return m
}
