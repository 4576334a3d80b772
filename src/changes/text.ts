import type { Approval, ChangeView, Person, UnscheduledResource } from './model.ts'

const when = (iso: string | null | undefined) =>
  iso ? `${iso.replace('T', ' ').slice(0, 16)} UTC` : 'not set'
const who = (p: Person | undefined) => (p ? `${p.name} <${p.email}>` : 'unknown')

/** The text of each note a change posts on its ticket (internal notes: technicians only). */
export const noteFor = {
  linked(c: ChangeView, consoleUrl: string | undefined): string {
    return [
      `Change control linked: ${c.title}`,
      `Risk: ${c.risk}`,
      `Implementation window: ${when(c.window.start)} – ${when(c.window.end)}`,
      `Created by: ${who(c.creator)}`,
      `Technical approver: ${who(c.technicalApprover)}`,
      `Operational approver: ${who(c.operationalApprover)}`,
      ...(c.committee ? [`vCAB members: ${c.vcabMembers.map(who).join(', ')}`] : []),
      ...(c.devices.length ? [`Devices: ${c.devices.map((d) => d.hostname).join(', ')}`] : []),
      '',
      c.description,
      ...(consoleUrl
        ? ['', `Change: ${consoleUrl.replace(/\/$/, '')}/changes/${c.id}`]
        : [`Change id: ${c.id}`]),
    ].join('\n')
  },
  resourceAdded(p: UnscheduledResource, identifier: string): string {
    return `Resource added: ${p.name} (${identifier}) as ${p.role}`
  },
  unscheduled(people: UnscheduledResource[]): string {
    return `Unscheduled resources (no ConnectWise member with their email): ${people
      .map((p) => `${p.name} <${p.email}> (${p.role})`)
      .join(', ')}`
  },
  approved(a: Approval): string {
    const role = a.role === 'technical' ? 'Technical' : 'Operational'
    return `${role} approval by ${a.name} <${a.email}>${a.comment ? `\nComment: ${a.comment}` : ''}`
  },
  plan(c: ChangeView): string {
    return [
      `Change: ${c.title}`,
      `Implementation window: ${when(c.window.start)} – ${when(c.window.end)}`,
      '',
      'Implementation plan:',
      c.implementationPlan,
    ].join('\n')
  },
  started(c: ChangeView): string {
    return `Implementation Started\nStarted: ${when(c.outcome.startedAt)}\nImplementer: ${who(c.outcome.implementer)}`
  },
  completed(c: ChangeView): string {
    return [
      'Implementation Completed Successfully',
      `Completed: ${when(c.outcome.completedAt)}`,
      `Completion notes: ${c.outcome.completionNotes ?? ''}`,
      `Test results: ${c.outcome.testResults ?? ''}`,
    ].join('\n')
  },
  failed(c: ChangeView): string {
    return [
      'Failed - Rollback Required',
      `Reason: ${c.outcome.failureReason ?? ''}`,
      `Rollback notes: ${c.outcome.rollbackNotes ?? ''}`,
    ].join('\n')
  },
  cancelled(c: ChangeView): string {
    return `Change Cancelled\nReason: ${c.outcome.cancelReason ?? ''}`
  },
}
