import { z } from '@hono/zod-openapi'

const name = (what: string) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(50, 'must be at most 50 characters')
    .openapi({ description: what })

const vendorId = z
  .string()
  .regex(/^\d{1,10}$/, 'must be the PSA id (digits)')
  .openapi({ description: "The PSA's id" })

/** The lifecycle events a ticket status can be configured for, in the seed's order. */
export const STATUS_EVENTS = ['created', 'fullyApproved', 'scheduled', 'completed', 'cancelled'] as const
export type StatusEvent = (typeof STATUS_EVENTS)[number]

/**
 * An organization's change-management settings, on one of its PSA integrations: the seed's setup steps 3–6
 * (company mapping with board filter, configuration-type mapping, ticket status mapping).
 */
export const changeSettingsSchema = z
  .strictObject({
    integrationId: z
      .uuid()
      .openapi({ description: 'The PSA integration (connection) changes are linked through' }),
    enabled: z.boolean().openapi({ description: 'Ticket linking and automatic ticket updates on or off' }),
    autoUpdateStatus: z
      .boolean()
      .default(false)
      .openapi({ description: 'Move the ticket to the configured status on each lifecycle event' }),
    statuses: z
      .strictObject({
        created: name('Status when a ticket is linked to a new change, e.g. "Change Linked"').optional(),
        fullyApproved: name('Status when the change has every approval').optional(),
        scheduled: name('Status when implementation is scheduled').optional(),
        completed: name('Status when implementation finished successfully').optional(),
        cancelled: name('Status when the change is cancelled').optional(),
      })
      .default({})
      .openapi({
        description:
          "Status names exactly as on the ticket's board; each is checked against the mapped boards when saved",
      }),
    company: z
      .strictObject({
        id: vendorId,
        name: z.string().max(255).optional(),
        boardIds: z
          .array(vendorId)
          .max(50)
          .default([])
          .openapi({ description: 'Only tickets on these boards may be linked; empty: every board' }),
      })
      .nullable()
      .default(null)
      .openapi({
        description: "This organization's company at the PSA (GET /api/v1/changes/companies searches them)",
      }),
    configurationTypes: z
      .array(
        z.strictObject({
          typeId: vendorId,
          typeName: z.string().max(100).optional(),
          deviceType: z.string().trim().min(1).max(100).openapi({ example: 'Server' }),
        }),
      )
      .max(200)
      .default([])
      .openapi({ description: 'PSA configuration type → device type; only mapped types are imported' }),
  })
  .openapi('ChangeSettings')

export type ChangeSettings = z.output<typeof changeSettingsSchema>

/** Stored settings, read back; anything unreadable reads as "off". */
export function readChangeSettings(raw: unknown): ChangeSettings | undefined {
  const parsed = changeSettingsSchema.safeParse(raw)
  return parsed.success ? parsed.data : undefined
}
