import type { Notification, NotificationFact } from '../shared/notification.ts'
import {
  displayTitle,
  escapeAndTruncate,
  formatUtc,
  notificationFacts,
  SEVERITY_EMOJI,
  summaryLine,
  truncate,
} from '../shared/notification-text.ts'

/**
 * Slack's limits for a message posted through an incoming webhook. Block limits are per block type in
 * https://api.slack.com/reference/block-kit/blocks (header text 150; section text 3,000, at most 10 fields of
 * 2,000 each; context at most 10 elements; button text 75, button url 3,000; at most 50 blocks per message);
 * the top-level `text` is truncated by Slack past 40,000 characters
 * (https://api.slack.com/methods/chat.postMessage#truncating).
 */
export const SLACK_LIMITS = {
  text: 40_000,
  blocks: 50,
  headerText: 150,
  sectionText: 3_000,
  sectionFields: 10,
  fieldText: 2_000,
  contextElements: 10,
  contextText: 3_000,
  buttonText: 75,
  buttonUrl: 3_000,
} as const

export interface SlackText {
  type: 'plain_text' | 'mrkdwn'
  text: string
  emoji?: boolean
}

export type SlackBlock =
  | { type: 'header'; text: SlackText }
  | { type: 'section'; text?: SlackText; fields?: SlackText[] }
  | { type: 'context'; elements: SlackText[] }
  | {
      type: 'actions'
      elements: { type: 'button'; text: SlackText; url: string; action_id: string }[]
    }

export interface SlackMessage {
  /** The fallback Slack shows in notifications and where blocks cannot be shown. */
  text: string
  blocks: SlackBlock[]
  /** Honoured by legacy custom-integration webhooks only; app webhooks always post to their own channel. */
  channel?: string
  username?: string
}

/**
 * mrkdwn treats `&`, `<` and `>` as control characters (links, mentions like `<!channel>`); everything that
 * comes from an event is escaped so a hostname cannot ping a channel
 * (https://api.slack.com/reference/surfaces/formatting#escaping).
 */
function escapeChar(ch: string): string {
  return ch === '&' ? '&amp;' : ch === '<' ? '&lt;' : ch === '>' ? '&gt;' : ch
}

export function slackEscape(text: string, max: number): string {
  return /[&<>]/.test(text) ? escapeAndTruncate(text, max, escapeChar) : truncate(text, max)
}

/**
 * A notification as a Block Kit message with a plain `text` fallback
 * (https://api.slack.com/messaging/webhooks#advanced_message_formatting): a header with the severity, the text,
 * the facts as two-column section fields, the time (shown in each reader's time zone through Slack's date
 * formatting), and a button to the console when there is a link. Every piece is cut to Slack's limits; pieces
 * that cannot fit (facts beyond 50 blocks) are summarised, never dropped silently. Pure.
 */
export function renderSlackMessage(n: Notification): SlackMessage {
  const title = displayTitle(n)
  const header: SlackBlock = {
    type: 'header',
    text: {
      type: 'plain_text',
      text: truncate(`${SEVERITY_EMOJI[n.severity]} ${title}`, SLACK_LIMITS.headerText),
      emoji: true,
    },
  }
  const body = n.text.trim()
  const textBlock: SlackBlock | undefined = body
    ? { type: 'section', text: { type: 'mrkdwn', text: slackEscape(body, SLACK_LIMITS.sectionText) } }
    : undefined
  const context: SlackBlock = {
    type: 'context',
    elements: [{ type: 'mrkdwn', text: truncate(contextLine(n), SLACK_LIMITS.contextText) }],
  }
  const button: SlackBlock | undefined =
    n.link && n.link.length <= SLACK_LIMITS.buttonUrl
      ? {
          type: 'actions',
          elements: [
            {
              type: 'button',
              text: { type: 'plain_text', text: 'Open in Patchbay' },
              url: n.link,
              action_id: 'patchbay_open',
            },
          ],
        }
      : undefined

  const fixed = 2 + (textBlock ? 1 : 0) + (button ? 1 : 0)
  const factBlocks = factSections(notificationFacts(n), SLACK_LIMITS.blocks - fixed)

  const blocks: SlackBlock[] = [header]
  if (textBlock) blocks.push(textBlock)
  blocks.push(...factBlocks, context)
  if (button) blocks.push(button)

  const fallback = body ? `${summaryLine(n)}\n${body}` : summaryLine(n)
  const msg: SlackMessage = { text: slackEscape(fallback, SLACK_LIMITS.text), blocks }
  if (n.channel?.trim()) msg.channel = n.channel.trim()
  if (n.username?.trim()) msg.username = n.username.trim()
  return msg
}

/** Facts as sections of at most 10 fields, in at most `maxBlocks` blocks; the overflow becomes a last field. */
function factSections(facts: NotificationFact[], maxBlocks: number): SlackBlock[] {
  const capacity = Math.max(0, maxBlocks) * SLACK_LIMITS.sectionFields
  let shown = facts
  if (facts.length > capacity) {
    shown = facts.slice(0, Math.max(0, capacity - 1))
    shown.push({ name: 'More', value: `…and ${facts.length - shown.length} more` })
  }
  const fields = shown.map(
    (f): SlackText => ({
      type: 'mrkdwn',
      text: fieldText(f),
    }),
  )
  const sections: SlackBlock[] = []
  for (let i = 0; i < fields.length; i += SLACK_LIMITS.sectionFields) {
    sections.push({ type: 'section', fields: fields.slice(i, i + SLACK_LIMITS.sectionFields) })
  }
  return sections
}

function fieldText(f: NotificationFact): string {
  const name = slackEscape(f.name, 200)
  // `*name*\n` costs name + 3 characters.
  return `*${name}*\n${slackEscape(f.value, SLACK_LIMITS.fieldText - name.length - 3)}`
}

/**
 * `<!date^…|fallback>` shows the time in the reader's own time zone, with the UTC text where it cannot
 * (https://api.slack.com/reference/surfaces/formatting#date-formatting).
 */
function contextLine(n: Notification): string {
  const ms = Date.parse(n.occurredAt)
  const when = Number.isNaN(ms)
    ? slackEscape(n.occurredAt, 100)
    : `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${formatUtc(n.occurredAt)}>`
  return n.test ? `${when} · Test message sent by Patchbay` : `${when} · Patchbay`
}
