import { z } from '@hono/zod-openapi'

export const CHANGE_STATUSES = [
  'created',
  'fully_approved',
  'scheduled',
  'in_progress',
  'completed',
  'failed',
  'cancelled',
] as const
export type ChangeStatus = (typeof CHANGE_STATUSES)[number]

/** States a change can still be cancelled from. */
export const OPEN_STATUSES: readonly ChangeStatus[] = [
  'created',
  'fully_approved',
  'scheduled',
  'in_progress',
]

export const RISKS = ['low', 'medium', 'high'] as const

export const personSchema = z
  .strictObject({
    name: z.string().trim().min(1, 'must not be empty').max(100),
    email: z.email({ message: 'must be an email address' }).max(250),
  })
  .openapi('ChangePerson')
export type Person = z.infer<typeof personSchema>

export type ApprovalRole = 'technical' | 'operational'

export interface Approval {
  role: ApprovalRole
  name: string
  email: string
  comment: string
  at: string
}

export interface ChangeTicketLink {
  integrationId: string
  ticketId: string
  number: string
  summary: string
  boardId: string
  boardName: string
  companyId: string
  url: string
}

export interface LinkedDevice {
  id: string
  hostname: string
  externalId: string
  integrationId: string
}

export interface UnscheduledResource {
  name: string
  email: string
  role: string
}

/** What later transitions said. */
export interface Outcome {
  implementer?: Person
  startedAt?: string
  completedAt?: string
  completionNotes?: string
  testResults?: string
  failureReason?: string
  rollbackNotes?: string
  cancelReason?: string
}

/** The change as the API and the events show it. */
export interface ChangeView {
  id: string
  orgId: string
  title: string
  description: string
  implementationPlan: string
  window: { start: string | null; end: string | null }
  risk: (typeof RISKS)[number]
  creator: Person
  technicalApprover: Person
  operationalApprover: Person
  committee: boolean
  vcabMembers: Person[]
  status: ChangeStatus
  approvals: Approval[]
  outcome: Outcome
  ticket: ChangeTicketLink | null
  devices: LinkedDevice[]
  unknownHostnames: string[]
  unscheduledResources: UnscheduledResource[]
  createdAt: string
  updatedAt: string
}

/** `@hostname` references in a text: letters, digits, dots, dashes and underscores after an `@` not inside a word. */
export function hostnameRefs(text: string): string[] {
  const out = new Set<string>()
  for (const m of text.matchAll(/(?<![\w.@-])@([A-Za-z0-9][A-Za-z0-9._-]{0,252})/g)) {
    const h = (m[1] ?? '').replace(/[._-]+$/, '').toLowerCase()
    if (h) out.add(h)
  }
  return [...out]
}

/** Everyone to add as a resource on the ticket, with their role, each email once. */
export function resourcesOf(c: ChangeView): UnscheduledResource[] {
  const people: UnscheduledResource[] = [
    { ...c.creator, role: 'Change creator' },
    { ...c.technicalApprover, role: 'Technical approver' },
    { ...c.operationalApprover, role: 'Operational approver' },
    ...(c.committee ? c.vcabMembers.map((p) => ({ ...p, role: 'vCAB member' })) : []),
  ]
  const seen = new Set<string>()
  return people.filter((p) => {
    const k = p.email.toLowerCase()
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}
