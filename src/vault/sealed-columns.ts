/**
 * Every column that holds vault ciphertext. `patchbay keys rotate` walks this list, so a module that stores a
 * secret adds its column here. The column's name is the `field` of its seal context and the row's `id` its id.
 */
export interface SealedColumn {
  table: string
  column: string
}

export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { table: 'integrations', column: 'credentials' },
  { table: 'webhooks', column: 'secret' },
  { table: 'webhooks', column: 'previous_secret' },
  { table: 'webhooks', column: 'header_values' },
  { table: 'webhook_sources', column: 'secret' },
  { table: 'webhook_sources', column: 'previous_secret' },
  { table: 'microsoft365_partner_apps', column: 'client_secret' },
]
