/** What the `/changes` routes share: the change as they show it, its window, and the ticket as the PSA shows it. */
import { z } from '@hono/zod-openapi'
import { CHANGE_STATUSES, personSchema, RISKS } from '../../../changes/model.ts'
import { dateTime, uuidSchema } from '../../schemas.ts'

export const TAG = 'Changes'

export const orgQuery = {
  orgId: uuidSchema.optional().openapi({ description: 'Required for partner and system keys' }),
}
export const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max)
export const windowSchema = z
  .strictObject({ start: dateTime(), end: dateTime() })
  .refine((w) => Date.parse(w.end) > Date.parse(w.start), {
    message: 'end must be after start',
    path: ['end'],
  })
  .openapi({ description: 'The implementation window' })
export const toWindow = (w: { start: string; end: string } | undefined) =>
  w ? { start: new Date(w.start), end: new Date(w.end) } : undefined

const ticketLinkSchema = z.object({
  integrationId: z.uuid(),
  ticketId: z.string(),
  number: z.string(),
  summary: z.string(),
  boardId: z.string(),
  boardName: z.string(),
  companyId: z.string(),
  url: z.string(),
  status: z.string().optional().openapi({
    description: "The ticket's status as the PSA's last callback about it said (inbound webhooks)",
  }),
  statusUpdatedAt: z
    .string()
    .optional()
    .openapi({ description: 'When the ticket changed, as the callback said (else when it was received)' }),
})

type ChangeOut = z.infer<typeof changeSchema>
/** The service's view, as the response schema types it (`outcome` is a free-form record there). */
export const out = (v: unknown) => v as ChangeOut

export const changeSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    title: z.string(),
    description: z.string(),
    implementationPlan: z.string(),
    window: z.object({ start: z.string().nullable(), end: z.string().nullable() }),
    risk: z.enum(RISKS),
    creator: personSchema,
    technicalApprover: personSchema,
    operationalApprover: personSchema,
    committee: z.boolean(),
    vcabMembers: z.array(personSchema),
    status: z.enum(CHANGE_STATUSES),
    approvals: z.array(
      z.object({
        role: z.enum(['technical', 'operational']),
        name: z.string(),
        email: z.string(),
        comment: z.string(),
        at: z.string(),
      }),
    ),
    outcome: z.record(z.string(), z.unknown()),
    ticket: ticketLinkSchema.nullable(),
    devices: z.array(
      z.object({ id: z.uuid(), hostname: z.string(), externalId: z.string(), integrationId: z.uuid() }),
    ),
    unknownHostnames: z.array(z.string()).openapi({ description: '`@hostname`s that matched no device' }),
    unscheduledResources: z
      .array(z.object({ name: z.string(), email: z.string(), role: z.string() }))
      .openapi({ description: 'People the PSA has no member for (by email)' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Change')

/** A PSA ticket: the ticket search's items and the linked-ticket widget. */
export const ticketInfo = z.object({
  id: z.string(),
  number: z.string(),
  summary: z.string(),
  status: z.string(),
  boardId: z.string(),
  boardName: z.string(),
  url: z.string(),
})
