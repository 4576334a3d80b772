/**
 * Every kind of delivery target, as deliveries store it in `target_type` (the `type` of each transport in
 * wiring.ts): what filters by kind accept. Hand-kept, because the routes build their OpenAPI schemas from it when
 * their module loads, before any context (and its transports) exists, and must not import the transports;
 * test/new-user.test.ts checks it names exactly the wired transports.
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
