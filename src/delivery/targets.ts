/**
 * Every kind of delivery target, as deliveries store it in `target_type` (the `type` of each transport in
 * registry.ts): what filters by kind accept. Kept apart from the registry so HTTP routes need not import the
 * transports.
 */
export const TARGET_TYPES = [
  'webhook',
  'psa',
  'notification',
  'monitoring',
  'ticketing',
  'action',
  'change_ticket',
] as const
