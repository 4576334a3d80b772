/**
 * The failure analysis of a rejected or dead-lettered inbound event: the stage that broke, the error verbatim
 * (secrets scrubbed), and a suggested fix from this table, keyed by stage and error class. `{vendor}` is the
 * provider's display name; `{detail}` the error text.
 */
const SUGGESTIONS: Record<string, string> = {
  'verify:signature_mismatch':
    "The secret configured in {vendor} differs from this source's; rotate the secret and paste it in {vendor} again.",
  'verify:missing_signature':
    '{vendor} sent no signature: check that the webhook in {vendor} has the secret set.',
  'verify:malformed_signature':
    'The signature header is not in the expected format; check the sender is {vendor}.',
  'verify:missing_secret':
    'Add the secret to the URL (?secret=…) or the X-Patchbay-Secret header in {vendor}.',
  'verify:client_state_mismatch':
    "The subscription's clientState differs from this source's secret: recreate the subscription with the secret as clientState.",
  'verify:timestamp_out_of_range':
    "The request is older (or newer) than five minutes: check the sender's clock, or it was replayed too late.",
  'verify:key_url_not_allowed':
    "key_url host not allowed: link the source to the {vendor} integration and set the integration's site URL to this host.",
  'verify:key_fetch_failed':
    'The signing key could not be fetched from key_url: check that {vendor} is reachable from Patchbay, then replay.',
  'verify:invalid_payload':
    'The body is not what {vendor} sends; check the source points at the right sender.',
  'parse:invalid_json': 'The body is not JSON: fix the webhook body template in {vendor}, then replay.',
  'parse:invalid_payload':
    'The body lacks fields Patchbay needs ({detail}): fix the webhook body in {vendor}, then replay.',
  'normalize:invalid_payload':
    'The body lacks fields Patchbay needs ({detail}): fix the webhook body in {vendor}, then replay.',
  'normalize:unknown_event_type':
    'Patchbay has no event type for this ({detail}); subscribe the source to resources listed in GET /api/v1/event-types.',
  'apply:no_mapping':
    '{detail}: the ticket was not created by Patchbay nor linked to a change control; link it to a change, or ignore this event.',
  'apply:integration_missing':
    'The linked integration was deleted: link the source to another integration, then replay.',
  'apply:status_lookup_failed':
    "{vendor} could not name the ticket's status: check the linked integration's credentials, then replay.",
  'apply:database':
    'Patchbay could not store the result; it will be retried. If it persists, check the database.',
}

const FALLBACK =
  'Unexpected error in the {stage} stage: check the error, fix the cause, then replay the event.'

export interface FailureAnalysis {
  stage: string
  errorClass: string
  error: string
  suggestion: string
}

export function analyse(stage: string, errorClass: string, error: string, vendor: string): FailureAnalysis {
  const template = SUGGESTIONS[`${stage}:${errorClass}`] ?? FALLBACK
  const suggestion = template
    .replaceAll('{vendor}', vendor)
    .replaceAll('{stage}', stage)
    .replaceAll('{detail}', error)
  return { stage, errorClass, error, suggestion }
}
