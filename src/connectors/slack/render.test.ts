import { describe, expect, it } from 'vitest'
import { blocksProblem } from '../../../test/standins/slack.ts'
import type { Notification } from '../shared/notification.ts'
import { renderSlackMessage, SLACK_LIMITS, type SlackBlock } from './render.ts'

const base: Notification = {
  title: 'Critical alert: CPU above 95% on WORKSTATION-01',
  text: 'CPU has been above 95% for 10 minutes.',
  severity: 'critical',
  eventType: 'alert.triggered',
  eventId: 'evt-1',
  org: { id: 'org-1', name: 'Contoso' },
  device: { id: 'dev-1', hostname: 'WORKSTATION-01' },
  alert: { id: 'al-9', name: 'CPU above 95%', status: 'triggered' },
  occurredAt: '2026-02-18T12:34:56.000Z',
  link: 'https://console.example.com/alerts/al-9',
}

function block<T extends SlackBlock['type']>(
  blocks: SlackBlock[],
  type: T,
): Extract<SlackBlock, { type: T }> {
  const b = blocks.find((x) => x.type === type)
  if (!b) throw new Error(`no ${type} block`)
  return b as Extract<SlackBlock, { type: T }>
}

describe('renderSlackMessage', () => {
  it('renders Block Kit with a text fallback', () => {
    expect(renderSlackMessage({ ...base, channel: '#ops', username: 'Patchbay' })).toEqual({
      text: '🔴 Critical alert: CPU above 95% on WORKSTATION-01\nCPU has been above 95% for 10 minutes.',
      channel: '#ops',
      username: 'Patchbay',
      blocks: [
        {
          type: 'header',
          text: {
            type: 'plain_text',
            text: '🔴 Critical alert: CPU above 95% on WORKSTATION-01',
            emoji: true,
          },
        },
        { type: 'section', text: { type: 'mrkdwn', text: 'CPU has been above 95% for 10 minutes.' } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Severity*\nCritical' },
            { type: 'mrkdwn', text: '*Device*\nWORKSTATION-01 (dev-1)' },
            { type: 'mrkdwn', text: '*Alert*\nCPU above 95%' },
            { type: 'mrkdwn', text: '*Status*\ntriggered' },
            { type: 'mrkdwn', text: '*Organization*\nContoso' },
            { type: 'mrkdwn', text: '*Event*\nalert.triggered' },
          ],
        },
        {
          type: 'context',
          elements: [
            {
              type: 'mrkdwn',
              text: '<!date^1771418096^{date_short_pretty} {time_secs}|2026-02-18 12:34:56 UTC> · Patchbay',
            },
          ],
        },
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              text: { type: 'plain_text', text: 'Open in Patchbay' },
              url: 'https://console.example.com/alerts/al-9',
              action_id: 'patchbay_open',
            },
          ],
        },
      ],
    })
  })

  it('marks test messages and leaves out what is not there', () => {
    const msg = renderSlackMessage({ ...base, test: true, text: '', link: undefined, title: 'Hello' })
    expect(block(msg.blocks, 'header').text.text).toBe('🔴 [Test] Hello')
    expect(msg.blocks.map((b) => b.type)).toEqual(['header', 'section', 'context'])
    expect(block(msg.blocks, 'context').elements[0]?.text).toContain('Test message sent by Patchbay')
    expect(msg.channel).toBeUndefined()
  })

  it('escapes mrkdwn control characters so event text cannot mention a channel', () => {
    const msg = renderSlackMessage({
      ...base,
      text: 'Hi <!channel> & <@U123>',
      device: { hostname: '<!here>' },
    })
    const text = block(msg.blocks, 'section').text?.text
    expect(text).toBe('Hi &lt;!channel&gt; &amp; &lt;@U123&gt;')
    expect(JSON.stringify(msg.blocks)).not.toContain('<!here>')
    expect(msg.text).not.toContain('<!channel>')
  })

  it('cuts every piece to its Block Kit limit', () => {
    const msg = renderSlackMessage({
      ...base,
      title: 'T'.repeat(500),
      text: '<'.repeat(50_000),
      device: { hostname: 'h'.repeat(5_000) },
    })
    const header = block(msg.blocks, 'header').text.text
    expect(header).toHaveLength(SLACK_LIMITS.headerText)
    expect(header.endsWith('…')).toBe(true)
    const section = block(msg.blocks, 'section').text?.text ?? ''
    expect(section.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText)
    expect(section.startsWith('&lt;&lt;')).toBe(true)
    expect(section.endsWith('&lt;…')).toBe(true)
    const fields = msg.blocks.flatMap((b) => (b.type === 'section' ? (b.fields ?? []) : []))
    for (const f of fields) expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText)
    expect(fields.find((f) => f.text.startsWith('*Device*'))?.text).toHaveLength(SLACK_LIMITS.fieldText)
    expect(msg.text.length).toBeLessThanOrEqual(SLACK_LIMITS.text)
    expect(msg.text.endsWith('&lt;…')).toBe(true)
    expect(blocksProblem(msg.blocks)).toBeUndefined()
  })

  it('keeps the text fallback within 40,000 characters', () => {
    const msg = renderSlackMessage({ ...base, text: 'x'.repeat(39_990) })
    expect(msg.text).toHaveLength(SLACK_LIMITS.text)
    expect(msg.text.endsWith('x…')).toBe(true)
  })

  it('never goes past 50 blocks or 10 fields a section; the overflow is counted in a last field', () => {
    const facts = Array.from({ length: 1_000 }, (_, i) => ({ name: `Fact ${i}`, value: `v${i}` }))
    const msg = renderSlackMessage({ ...base, facts })
    expect(msg.blocks).toHaveLength(SLACK_LIMITS.blocks)
    const sections = msg.blocks.filter((b) => b.type === 'section' && b.fields)
    for (const s of sections) expect(s.type === 'section' && (s.fields?.length ?? 0)).toBeLessThanOrEqual(10)
    const allFields = sections.flatMap((s) => (s.type === 'section' ? (s.fields ?? []) : []))
    // 6 standard facts + 1,000 extra; 46 sections of 10 fields hold 459 of them and the summary.
    expect(allFields).toHaveLength(460)
    expect(allFields.at(-1)?.text).toBe(`*More*\n…and ${1_006 - 459} more`)
    expect(msg.blocks.at(-1)?.type).toBe('actions')
    expect(blocksProblem(msg.blocks)).toBeUndefined()
  })

  it('leaves out a console link longer than a button URL may be', () => {
    const msg = renderSlackMessage({ ...base, link: `https://console.example.com/${'a'.repeat(3_000)}` })
    expect(msg.blocks.some((b) => b.type === 'actions')).toBe(false)
  })
})
