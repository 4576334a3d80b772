import { z } from '@hono/zod-openapi'

export const ALERT_SEVERITIES = ['critical', 'warning', 'info'] as const
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number]

const name = (what: string) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(255, 'must be at most 255 characters')
    .openapi({ description: what })

/**
 * A PSA connection's `settings`: what the alert → ticket automation and the sync do. Everything is optional; with
 * `autoCreateTickets` unset or false the connection creates no tickets. Names (boards, statuses, priorities) are
 * the vendor's own, as they appear in its UI (or its ids); the connector resolves them.
 */
const settingsObject = z.strictObject({
  autoCreateTickets: z
    .boolean()
    .optional()
    .openapi({
      description:
        '`alert.triggered` creates one ticket per alert; `alert.acknowledged` and `alert.escalated` add an ' +
        'internal note (an escalated alert without a ticket is weighed as a new one); `alert.resolved` adds a ' +
        'note and moves the ticket to `statusMap.resolved`. Default false.',
    }),
  defaultBoard: name('Board (ConnectWise) tickets are created on').optional(),
  defaultQueue: name(
    'Queue (Autotask) or group (ServiceNow, Freshservice, Zendesk) for new tickets',
  ).optional(),
  defaultProject: name('Project key (Jira) for new tickets').optional(),
  defaultStatus: name('Status of new tickets; the vendor default when unset').optional(),
  defaultPriority: name('Priority of new tickets whose severity has no priorityMap entry').optional(),
  priorityMap: z
    .strictObject({
      critical: name('Priority for critical alerts').optional(),
      warning: name('Priority for warning alerts').optional(),
      info: name('Priority for info alerts').optional(),
    })
    .optional()
    .openapi({ description: "Alert severity → the vendor's priority name (or id)" }),
  statusMap: z
    .strictObject({
      resolved: name('Status a ticket moves to when its alert resolves').optional(),
      acknowledged: name('Status a ticket moves to when its alert is acknowledged').optional(),
      escalated: name('Status a ticket moves to when its alert is escalated').optional(),
    })
    .optional()
    .openapi({ description: "Alert state → the vendor's ticket status name" }),
  companyId: name('Company / account / department / organization new tickets belong to').optional(),
  severities: z
    .array(z.enum(ALERT_SEVERITIES))
    .min(1, 'must name at least one severity')
    .optional()
    .openapi({ description: 'Only alerts of these severities create tickets. Default: all.' }),
  autoSync: z.boolean().optional().openapi({
    description:
      'Sync ticket statuses every PATCHBAY_PSA_SYNC_INTERVAL_MS. Default true; manual syncs work either way.',
  }),
})

export const psaSettingsSchema = settingsObject
  .superRefine(
    (s, ctx) => {
      const queues = (['defaultBoard', 'defaultQueue', 'defaultProject'] as const).filter(
        (k) => s[k] !== undefined,
      )
      if (queues.length > 1) {
        for (const k of queues.slice(1)) {
          ctx.addIssue({
            code: 'custom',
            path: [k],
            message: `give one of defaultBoard, defaultQueue or defaultProject (${queues[0]} is already set)`,
          })
        }
      }
      // `when`: runs even when a field failed, so one request reports every problem at once.
    },
    { when: (payload) => payload.value !== null && typeof payload.value === 'object' },
  )
  .openapi('PsaSettings')

export type PsaSettings = z.infer<typeof psaSettingsSchema>

/**
 * Settings as stored, read leniently, key by key: settings written through another door (the SynthesQ
 * `/integrations` routes take any object) keep every valid key, and invalid or unknown ones are ignored.
 */
export function readSettings(raw: unknown): PsaSettings {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return {}
  const out: Record<string, unknown> = {}
  for (const [key, schema] of Object.entries(settingsObject.shape)) {
    const value = (raw as Record<string, unknown>)[key]
    if (value === undefined) continue
    const parsed = (schema as z.ZodType).safeParse(value)
    if (parsed.success) out[key] = parsed.data
  }
  return out as PsaSettings
}

export function automationEnabled(s: PsaSettings): boolean {
  return s.autoCreateTickets === true
}

export function autoSyncEnabled(s: PsaSettings): boolean {
  return s.autoSync !== false
}

export function queueOf(s: PsaSettings): string | undefined {
  return s.defaultBoard ?? s.defaultQueue ?? s.defaultProject
}

/** `critical|warning|info` from an alert's data (any case), or undefined. */
export function severityOf(data: Record<string, unknown>): AlertSeverity | undefined {
  const raw = data.severity
  if (typeof raw !== 'string') return undefined
  const s = raw.trim().toLowerCase()
  return (ALERT_SEVERITIES as readonly string[]).includes(s) ? (s as AlertSeverity) : undefined
}

export function priorityFor(s: PsaSettings, severity: AlertSeverity | undefined): string | undefined {
  return (severity ? s.priorityMap?.[severity] : undefined) ?? s.defaultPriority
}

/** Whether an alert of this severity creates a ticket; alerts without a severity do unless a filter is set. */
export function severityWanted(s: PsaSettings, severity: AlertSeverity | undefined): boolean {
  if (!s.severities) return true
  return severity !== undefined && s.severities.includes(severity)
}
