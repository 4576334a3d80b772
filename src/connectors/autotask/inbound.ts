import { InboundError, type InboundOperations, parseJson, verifyHmacHeader } from '../shared/inbound.ts'

/**
 * Autotask webhook callouts. Signature: `X-Hook-Signature: sha1=<base64 HMAC-SHA1(SecretKey, raw body)>`
 * (Autotask help, "Secret key and payload verification"). Body: `{Action, Guid, EntityType, Id, Fields, EventTime,
 * SequenceNumber, PersonId}`; `Fields` holds the subscribed fields that changed (`Status` as the status id).
 */
export const autotaskInbound: InboundOperations = {
  displayName: 'Autotask',
  secretStyle: 'token',
  verify: (req, ctx) =>
    verifyHmacHeader(req, ctx.secrets, {
      header: 'x-hook-signature',
      prefix: 'sha1=',
      algorithm: 'sha1',
      encoding: 'base64',
    }),
  parse(body) {
    const p = parseJson(body)
    if (!p || typeof p !== 'object' || Array.isArray(p))
      throw new InboundError('invalid_payload', 'the body is not a JSON object')
    const o = p as Record<string, unknown>
    if (typeof o.EntityType !== 'string') throw new InboundError('invalid_payload', 'EntityType is missing')
    if (typeof o.Id !== 'number' && typeof o.Id !== 'string')
      throw new InboundError('invalid_payload', 'Id is missing')
    if (typeof o.Action !== 'string') throw new InboundError('invalid_payload', 'Action is missing')
    return o
  },
  normalize(payload) {
    const p = payload as Record<string, unknown>
    if (String(p.EntityType).toLowerCase() !== 'ticket') {
      return {
        events: [],
        ticketChanges: [],
        ignored: `${String(p.EntityType)} callouts produce no platform event`,
      }
    }
    const fields = (p.Fields && typeof p.Fields === 'object' ? p.Fields : {}) as Record<string, unknown>
    const ticketId = String(p.Id)
    const status = fields.Status === undefined || fields.Status === null ? undefined : String(fields.Status)
    const title = typeof fields.Title === 'string' ? fields.Title : undefined
    return {
      events: [
        {
          key: `ticket:${ticketId}:${String(p.SequenceNumber ?? p.EventTime ?? '')}`,
          type: 'psa.ticket.updated',
          occurredAt: typeof p.EventTime === 'string' ? p.EventTime : undefined,
          data: {
            provider: 'autotask',
            ticketId,
            ticketNumber: typeof fields.TicketNumber === 'string' ? fields.TicketNumber : undefined,
            action: String(p.Action).toLowerCase(),
            ...(status !== undefined ? { status } : {}),
            ...(title !== undefined ? { title } : {}),
            changedFields: Object.keys(fields),
            webhookGuid: p.Guid,
          },
        },
      ],
      ticketChanges: String(p.Action).toLowerCase() === 'delete' ? [] : [{ ticketId, status, title }],
    }
  },
  setup: (url, secret) => [
    'In Autotask: Admin > Extensions & Integrations > Other Extensions & Tools > Webhooks (or POST /V1.0/TicketWebhooks).',
    `Webhook URL: ${url}`,
    `Secret Key: ${secret}`,
    'Subscribe to Create and Update events and to at least the Status field of Tickets.',
  ],
}
