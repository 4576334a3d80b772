import { z } from '@hono/zod-openapi'

/** One credential field of a provider, as `GET /integrations/providers` shows it. */
export const credentialFieldSchema = z.object({
  type: z.enum(['string', 'url', 'number', 'boolean']),
  sensitive: z.boolean(),
  /**
   * The field decides where requests go (a URL, host, site, domain, instance, zone, `baseUrl`…). Changing it
   * needs every stored sensitive field given again in the same request: a stored secret is only ever sent to
   * the destination it was saved with (see `destinationProblems` in src/integrations/credentials.ts).
   */
  destination: z.boolean().optional().openapi({
    description:
      'Decides where requests go. Changing it needs every sensitive field given again in the same request.',
  }),
  required: z.boolean(),
  pattern: z.string().optional(),
  default: z.union([z.string(), z.number(), z.boolean()]).optional(),
  description: z.string().optional(),
})

export type CredentialField = z.infer<typeof credentialFieldSchema>

/** A credential field as `GET /integrations/providers` shows it: `destination` always present. */
export const providerCredentialFieldSchema = credentialFieldSchema.extend({
  destination: z.boolean().openapi({
    description:
      'Decides where requests go. Changing it needs every sensitive field given again in the same request ' +
      '(else 422): a stored secret is only ever sent to the destination it was saved with.',
  }),
})

/** A field as the providers route shows it. */
export function describeCredentialField(
  field: CredentialField,
): z.infer<typeof providerCredentialFieldSchema> {
  return { ...field, destination: field.destination === true }
}
export type CredentialSchema = Record<string, CredentialField>

/**
 * Credentials as an API response may show them: every field of the schema present, sensitive ones null
 * whatever they hold, non-sensitive ones as stored. Fields outside the schema are dropped, never echoed.
 */
export function maskCredentials(
  schema: CredentialSchema,
  credentials: Record<string, unknown> | null | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, field] of Object.entries(schema)) {
    const value = credentials?.[name]
    out[name] = field.sensitive || value === undefined ? null : value
  }
  return out
}

/**
 * A URL whose path or query is itself the credential (Slack, Teams and Discord webhook URLs) shown so its owner
 * can recognise it: scheme, host and the last four characters, nothing in between.
 */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url)
    const rest = `${u.pathname}${u.search}`
    const tail = rest.length > 12 ? rest.slice(-4) : ''
    return `${u.protocol}//${u.host}/****${tail}`
  } catch {
    return '****'
  }
}

/** A secret shown only by its length class and last four characters, e.g. for a key listing. */
export function maskSecret(value: string): string {
  return value.length > 12 ? `****${value.slice(-4)}` : '****'
}
