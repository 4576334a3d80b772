import { z } from 'zod'
import type { ConnectorAction } from '../connectors/types.ts'

/** A connector's actions as the providers listing shows them, each input schema as JSON Schema. */
export function describeActions(actions: readonly ConnectorAction[] | undefined) {
  return (actions ?? []).map((a) => ({
    name: a.name,
    description: a.description,
    needs_approval: a.needsApproval,
    has_preview: a.preview !== undefined,
    idempotency: a.idempotency,
    input_schema: z.toJSONSchema(a.input, { unrepresentable: 'any', io: 'input' }) as Record<string, unknown>,
  }))
}
