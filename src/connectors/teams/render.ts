import type { Notification, NotificationFact, Severity } from '../shared/notification.ts'
import {
  displayTitle,
  formatUtc,
  hexColor,
  notificationFacts,
  SEVERITY_EMOJI,
  summaryLine,
  truncate,
} from '../shared/notification-text.ts'

/**
 * Teams refuses messages over 28 KB
 * (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-messages-using-curl-and-powershell,
 * "The message size limit is 28 KB"); the limit applies to what Teams builds from our payload, so keep 1 KB
 * spare. Measured in UTF-8 bytes of the JSON body.
 */
export const TEAMS_MAX_PAYLOAD_BYTES = 27 * 1024

export interface AdaptiveCardMessage {
  type: 'message'
  attachments: {
    contentType: 'application/vnd.microsoft.card.adaptive'
    contentUrl: null
    content: Record<string, unknown>
  }[]
}

export interface MessageCard {
  '@type': 'MessageCard'
  '@context': 'https://schema.org/extensions'
  summary: string
  themeColor: string
  title: string
  text?: string
  sections?: { facts: { name: string; value: string }[] }[]
  potentialAction?: { '@type': 'OpenUri'; name: string; targets: { os: 'default'; uri: string }[] }[]
}

/** Longer links are left out rather than cut (a cut link leads nowhere). */
const MAX_LINK = 2_048

interface Limits {
  title: number
  text: number
  facts: number
  factValue: number
}

const START: Limits = { title: 1_000, text: 20_000, facts: 50, factValue: 1_000 }

/** Container styles per severity (Adaptive Cards 1.2+: attention, warning, accent, good). */
const STYLE: Record<Severity, string> = {
  critical: 'attention',
  warning: 'warning',
  info: 'accent',
  ok: 'good',
}

/**
 * A Workflows (Power Automate) webhook message: the `message` envelope with one Adaptive Card 1.4 attachment
 * (https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-reference#adaptive-card,
 * the body the "When a Teams webhook request is received" trigger posts). A coloured header, the text, the
 * facts, the time in the reader's zone (`{{DATE()}}`/`{{TIME()}}`), and a button to the console. Pure.
 */
export function renderAdaptiveCard(n: Notification): AdaptiveCardMessage {
  return shrinkToFit(n, (l) => adaptiveCard(n, l))
}

/**
 * A legacy Office 365 connector card (`@type: MessageCard`,
 * https://learn.microsoft.com/en-us/outlook/actionable-messages/message-card-reference), for the retired
 * `*.webhook.office.com` / `outlook.office.com/webhook` URLs, which do not take Adaptive Cards. The connector
 * refuses a card with neither `summary` nor `text` ("Summary or Text is required."), so both are always set.
 * Pure.
 */
export function renderMessageCard(n: Notification): MessageCard {
  return shrinkToFit(n, (l) => messageCard(n, l))
}

function adaptiveCard(n: Notification, l: Limits): AdaptiveCardMessage {
  const facts = factsWithin(notificationFacts(n), l)
  const body: Record<string, unknown>[] = [
    {
      type: 'Container',
      style: STYLE[n.severity],
      bleed: true,
      items: [
        {
          type: 'TextBlock',
          text: truncate(`${SEVERITY_EMOJI[n.severity]} ${displayTitle(n)}`, l.title),
          weight: 'Bolder',
          size: 'Medium',
          wrap: true,
        },
      ],
    },
  ]
  const text = n.text.trim()
  if (text) body.push({ type: 'TextBlock', text: truncate(text, l.text), wrap: true })
  if (facts.length) {
    body.push({ type: 'FactSet', facts: facts.map((f) => ({ title: f.name, value: f.value })) })
  }
  body.push({ type: 'TextBlock', text: footer(n), isSubtle: true, size: 'Small', wrap: true })
  const content: Record<string, unknown> = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    msteams: { width: 'Full' },
    body,
  }
  if (n.link && n.link.length <= MAX_LINK)
    content.actions = [{ type: 'Action.OpenUrl', title: 'Open in Patchbay', url: n.link }]
  return {
    type: 'message',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }],
  }
}

function messageCard(n: Notification, l: Limits): MessageCard {
  const facts = factsWithin(notificationFacts(n), l)
  const text = n.text.trim()
  const card: MessageCard = {
    '@type': 'MessageCard',
    '@context': 'https://schema.org/extensions',
    summary: truncate(summaryLine(n), Math.min(l.title, 250)),
    themeColor: hexColor(n.severity),
    title: truncate(`${SEVERITY_EMOJI[n.severity]} ${displayTitle(n)}`, l.title),
  }
  if (text) card.text = truncate(text, l.text)
  const sectionFacts = facts.map((f) => ({ name: f.name, value: f.value }))
  sectionFacts.push({ name: 'Time', value: formatUtc(n.occurredAt) })
  card.sections = [{ facts: sectionFacts }]
  if (n.link && n.link.length <= MAX_LINK) {
    card.potentialAction = [
      { '@type': 'OpenUri', name: 'Open in Patchbay', targets: [{ os: 'default', uri: n.link }] },
    ]
  }
  return card
}

/**
 * `{{DATE()}}` and `{{TIME()}}` take RFC 3339 without fractional seconds
 * (https://learn.microsoft.com/en-us/adaptive-cards/authoring-cards/text-features#datetime-formatting-and-localization).
 */
function footer(n: Notification): string {
  const ms = Date.parse(n.occurredAt)
  const when = Number.isNaN(ms)
    ? n.occurredAt
    : (() => {
        const iso = new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
        return `{{DATE(${iso}, SHORT)}} {{TIME(${iso})}}`
      })()
  return n.test ? `${when} · Test message sent by Patchbay` : `${when} · Patchbay`
}

function factsWithin(facts: NotificationFact[], l: Limits): NotificationFact[] {
  const shown = facts.slice(0, l.facts).map((f) => ({
    name: truncate(f.name, Math.min(200, l.factValue)),
    value: truncate(f.value, l.factValue),
  }))
  if (facts.length > l.facts && l.facts > 0) {
    shown[shown.length - 1] = { name: 'More', value: `…and ${facts.length - l.facts + 1} more` }
  }
  return shown
}

/**
 * Renders with shrinking limits until the JSON fits TEAMS_MAX_PAYLOAD_BYTES: the text first, then fact values,
 * then the number of facts, then the title. Deterministic; ends at a card of a few hundred bytes at worst.
 */
function shrinkToFit<T>(n: Notification, build: (l: Limits) => T): T {
  const l: Limits = { ...START }
  const textLength = n.text.trim().length
  const longestFact = Math.max(0, ...notificationFacts(n).map((f) => f.value.length))
  const factCount = notificationFacts(n).length
  const titleLength = displayTitle(n).length + 3
  for (let i = 0; i < 100; i++) {
    const out = build(l)
    if (Buffer.byteLength(JSON.stringify(out), 'utf8') <= TEAMS_MAX_PAYLOAD_BYTES) return out
    if (l.text > 500 && textLength > 500) l.text = Math.floor(Math.min(l.text, textLength) * 0.7)
    else if (l.factValue > 100 && longestFact > 100)
      l.factValue = Math.floor(Math.min(l.factValue, longestFact) * 0.7)
    else if (l.facts > 5 && factCount > 5)
      l.facts = Math.max(5, Math.floor(Math.min(l.facts, factCount) * 0.7))
    else if (l.title > 150 && titleLength > 150) l.title = Math.floor(Math.min(l.title, titleLength) * 0.7)
    else if (l.text > 50 && textLength > 50) l.text = Math.floor(Math.min(l.text, textLength) * 0.7)
    else break
  }
  return build({ title: 150, text: 50, facts: 5, factValue: 100 })
}
