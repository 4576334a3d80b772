/**
 * Why an integration operation was refused. Doors (routes) choose the HTTP status and body shape; the field
 * names in `fields` are those of the service's input (`provider`, `name`, `credentials.<field>`,
 * `enabledCapabilities`, `settings`, `metadata`, and for routing rules `integrationId`, `conditions`…).
 */
export type IntegrationErrorCode = 'invalid' | 'not_found' | 'conflict' | 'no_active_provider'

export class IntegrationError extends Error {
  override name = 'IntegrationError'
  constructor(
    readonly code: IntegrationErrorCode,
    message: string,
    readonly fields: Record<string, string[]> = {},
  ) {
    super(message)
  }

  static invalid(fields: Record<string, string[]>): IntegrationError {
    const first = Object.entries(fields)[0]
    return new IntegrationError('invalid', first ? `${first[0]}: ${first[1][0]}` : 'Invalid input', fields)
  }

  static field(field: string, message: string): IntegrationError {
    return IntegrationError.invalid({ [field]: [message] })
  }

  static notFound(what = 'Integration'): IntegrationError {
    return new IntegrationError('not_found', `${what} not found`)
  }

  static conflict(message: string): IntegrationError {
    return new IntegrationError('conflict', message)
  }
}

/** Collects field errors, then throws them all at once. */
export class FieldErrors {
  readonly fields: Record<string, string[]> = {}
  add(field: string, message: string): void {
    let list = this.fields[field]
    if (!list) {
      list = []
      this.fields[field] = list
    }
    list.push(message)
  }
  get empty(): boolean {
    return Object.keys(this.fields).length === 0
  }
  throwIfAny(): void {
    if (!this.empty) throw IntegrationError.invalid(this.fields)
  }
}
