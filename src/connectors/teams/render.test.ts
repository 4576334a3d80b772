import { describe, expect, it } from 'vitest'
import { envelopeProblem, messageCardProblem } from '../../../test/standins/teams.ts'
import type { Notification } from '../shared/notification.ts'
import { renderAdaptiveCard, renderMessageCard, TEAMS_MAX_PAYLOAD_BYTES } from './render.ts'

const base: Notification = {
  title: 'Critical alert: CPU above 95% on WORKSTATION-01',
  text: 'CPU has been above 95% for 10 minutes.',
  severity: 'critical',
  eventType: 'alert.triggered',
  org: { id: 'org-1', name: 'Contoso' },
  device: { id: 'dev-1', hostname: 'WORKSTATION-01' },
  alert: { id: 'al-9', name: 'CPU above 95%', status: 'triggered' },
  occurredAt: '2026-02-18T12:34:56.789Z',
  link: 'https://console.example.com/alerts/al-9',
}

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v), 'utf8')

/** The card's body elements. */
function cardBody(
  msg: ReturnType<typeof renderAdaptiveCard>,
): { type: string; style?: string; facts?: unknown[] }[] {
  const content = msg.attachments[0]?.content
  if (!content) throw new Error('no card')
  return content.body as { type: string; style?: string; facts?: unknown[] }[]
}

describe('renderAdaptiveCard', () => {
  it('wraps an Adaptive Card 1.4 in the Workflows message envelope', () => {
    expect(renderAdaptiveCard(base)).toEqual({
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          contentUrl: null,
          content: {
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            type: 'AdaptiveCard',
            version: '1.4',
            msteams: { width: 'Full' },
            body: [
              {
                type: 'Container',
                style: 'attention',
                bleed: true,
                items: [
                  {
                    type: 'TextBlock',
                    text: '🔴 Critical alert: CPU above 95% on WORKSTATION-01',
                    weight: 'Bolder',
                    size: 'Medium',
                    wrap: true,
                  },
                ],
              },
              { type: 'TextBlock', text: 'CPU has been above 95% for 10 minutes.', wrap: true },
              {
                type: 'FactSet',
                facts: [
                  { title: 'Severity', value: 'Critical' },
                  { title: 'Device', value: 'WORKSTATION-01 (dev-1)' },
                  { title: 'Alert', value: 'CPU above 95%' },
                  { title: 'Status', value: 'triggered' },
                  { title: 'Organization', value: 'Contoso' },
                  { title: 'Event', value: 'alert.triggered' },
                ],
              },
              {
                type: 'TextBlock',
                text: '{{DATE(2026-02-18T12:34:56Z, SHORT)}} {{TIME(2026-02-18T12:34:56Z)}} · Patchbay',
                isSubtle: true,
                size: 'Small',
                wrap: true,
              },
            ],
            actions: [
              {
                type: 'Action.OpenUrl',
                title: 'Open in Patchbay',
                url: 'https://console.example.com/alerts/al-9',
              },
            ],
          },
        },
      ],
    })
    expect(envelopeProblem(renderAdaptiveCard(base))).toBeUndefined()
  })

  it('uses each severity colour', () => {
    const style = (severity: Notification['severity']) =>
      cardBody(renderAdaptiveCard({ ...base, severity }))[0]?.style
    expect([style('critical'), style('warning'), style('info'), style('ok')]).toEqual([
      'attention',
      'warning',
      'accent',
      'good',
    ])
  })

  it('stays under the size limit whatever is thrown at it, text first', () => {
    const huge = renderAdaptiveCard({ ...base, text: '🔥'.repeat(40_000) })
    expect(bytes(huge)).toBeLessThanOrEqual(TEAMS_MAX_PAYLOAD_BYTES)
    expect(envelopeProblem(huge)).toBeUndefined()
    const facts = cardBody(huge).find((b) => b.type === 'FactSet')?.facts
    expect(facts).toHaveLength(6)

    const everything = renderAdaptiveCard({
      ...base,
      title: 'T'.repeat(100_000),
      text: 'x'.repeat(100_000),
      facts: Array.from({ length: 500 }, (_, i) => ({ name: `F${i}`, value: 'é'.repeat(2_000) })),
    })
    expect(bytes(everything)).toBeLessThanOrEqual(TEAMS_MAX_PAYLOAD_BYTES)
    expect(envelopeProblem(everything)).toBeUndefined()
  })
})

describe('renderMessageCard', () => {
  it('renders a legacy connector card with summary, colour, facts and a link', () => {
    expect(renderMessageCard(base)).toEqual({
      '@type': 'MessageCard',
      '@context': 'https://schema.org/extensions',
      summary: '🔴 Critical alert: CPU above 95% on WORKSTATION-01',
      themeColor: 'D32F2F',
      title: '🔴 Critical alert: CPU above 95% on WORKSTATION-01',
      text: 'CPU has been above 95% for 10 minutes.',
      sections: [
        {
          facts: [
            { name: 'Severity', value: 'Critical' },
            { name: 'Device', value: 'WORKSTATION-01 (dev-1)' },
            { name: 'Alert', value: 'CPU above 95%' },
            { name: 'Status', value: 'triggered' },
            { name: 'Organization', value: 'Contoso' },
            { name: 'Event', value: 'alert.triggered' },
            { name: 'Time', value: '2026-02-18 12:34:56 UTC' },
          ],
        },
      ],
      potentialAction: [
        {
          '@type': 'OpenUri',
          name: 'Open in Patchbay',
          targets: [{ os: 'default', uri: 'https://console.example.com/alerts/al-9' }],
        },
      ],
    })
  })

  it('always has a summary, and stays under the size limit', () => {
    const card = renderMessageCard({ ...base, text: '', title: '' })
    expect(card.summary).toBe('🔴 alert.triggered · WORKSTATION-01')
    const huge = renderMessageCard({ ...base, text: 'x'.repeat(60_000), title: 'y'.repeat(60_000) })
    expect(bytes(huge)).toBeLessThanOrEqual(TEAMS_MAX_PAYLOAD_BYTES)
    expect(huge.summary.length).toBeLessThanOrEqual(250)
    expect(messageCardProblem(huge as unknown as Record<string, unknown>)).toBeUndefined()
  })
})
