import { z } from 'zod'

/**
 * The normalized shapes of what Patchbay reads at vendors (issue 15). One shape per kind across vendors: a device
 * from Datto RMM and one from UniFi share these fields, and each item keeps `raw`, the vendor's object as sent.
 * Fields a vendor does not have are null, never invented. Connectors map to these; routes validate against them.
 */
const raw = z.record(z.string(), z.unknown()).describe("The vendor's object, as the vendor sent it")
const when = z.string().nullable().describe('ISO 8601 time, or null when the vendor does not say')

/** A machine on a network, whoever reports it: RMM devices, UniFi devices and clients, EDR agents. */
const device = z.object({
  id: z.string(),
  name: z.string(),
  hostname: z.string().nullable(),
  ip: z.string().nullable(),
  mac: z.string().nullable(),
  os: z.string().nullable(),
  site: z.string().nullable().describe('Site id or name at the vendor'),
  online: z.boolean().nullable(),
  lastSeen: when,
  raw,
})

export const resourceSchemas = {
  sites: z.object({ id: z.string(), name: z.string(), description: z.string().nullable(), raw }),
  devices: device,
  /** Network clients (UniFi) and EDR agents share the device shape. */
  clients: device,
  agents: device,
  /** UniFi Site Manager hosts (consoles). */
  hosts: z.object({
    id: z.string(),
    name: z.string(),
    ip: z.string().nullable(),
    online: z.boolean().nullable(),
    lastSeen: when,
    raw,
  }),
  alerts: z.object({
    id: z.string(),
    status: z.enum(['open', 'resolved']),
    severity: z.enum(['critical', 'high', 'medium', 'low', 'info']),
    message: z.string(),
    deviceId: z.string().nullable(),
    hostname: z.string().nullable(),
    site: z.string().nullable(),
    createdAt: when,
    resolvedAt: when,
    raw,
  }),
  /** One device's audit (hardware/software), as one item per device. */
  'device-audit': z.object({
    deviceId: z.string(),
    manufacturer: z.string().nullable(),
    model: z.string().nullable(),
    serialNumber: z.string().nullable(),
    os: z.string().nullable(),
    raw,
  }),
  /** Customer records: IT Glue organizations, Pax8 and Autotask companies. */
  organizations: z.object({ id: z.string(), name: z.string(), raw }),
  companies: z.object({ id: z.string(), name: z.string(), raw }),
  configurations: z.object({
    id: z.string(),
    name: z.string(),
    organizationId: z.string().nullable(),
    hostname: z.string().nullable(),
    ip: z.string().nullable(),
    serialNumber: z.string().nullable(),
    raw,
  }),
  contacts: z.object({
    id: z.string(),
    name: z.string(),
    email: z.string().nullable(),
    organizationId: z.string().nullable(),
    raw,
  }),
  /** Password metadata only: a password's value is never fetched, so `raw` never holds one either. */
  passwords: z.object({
    id: z.string(),
    name: z.string(),
    username: z.string().nullable(),
    url: z.string().nullable(),
    organizationId: z.string().nullable(),
    updatedAt: when,
    raw,
  }),
  products: z.object({
    id: z.string(),
    name: z.string(),
    vendor: z.string().nullable(),
    sku: z.string().nullable(),
    raw,
  }),
  orders: z.object({ id: z.string(), companyId: z.string().nullable(), createdAt: when, raw }),
  subscriptions: z.object({
    id: z.string(),
    companyId: z.string().nullable(),
    productId: z.string().nullable(),
    quantity: z.number().nullable(),
    status: z.string().nullable(),
    raw,
  }),
  'subscription-history': z.object({
    id: z.string(),
    subscriptionId: z.string(),
    action: z.string().nullable(),
    quantity: z.number().nullable(),
    createdAt: when,
    raw,
  }),
  /** PSA people (Autotask resources). */
  resources: z.object({ id: z.string(), name: z.string(), email: z.string().nullable(), raw }),
  tickets: z.object({
    id: z.string(),
    number: z.string().nullable(),
    title: z.string(),
    status: z.string(),
    companyId: z.string().nullable(),
    updatedAt: when,
    raw,
  }),
  users: z.object({
    id: z.string(),
    name: z.string(),
    email: z.string().nullable(),
    enabled: z.boolean().nullable(),
    licenses: z.array(z.string()).describe('SKU part numbers or ids assigned to the user'),
    raw,
  }),
  groups: z.object({ id: z.string(), name: z.string(), email: z.string().nullable(), raw }),
  licenses: z.object({
    id: z.string(),
    sku: z.string(),
    total: z.number().nullable(),
    consumed: z.number().nullable(),
    raw,
  }),
  'mailbox-usage': z.object({
    id: z.string().describe('User principal name or mailbox id'),
    name: z.string().nullable(),
    storageUsedBytes: z.number().nullable(),
    itemCount: z.number().nullable(),
    lastActivity: when,
    raw,
  }),
} as const

export type ResourceKind = keyof typeof resourceSchemas
export type ResourceItem<K extends ResourceKind = ResourceKind> = z.infer<(typeof resourceSchemas)[K]>
export const RESOURCE_KINDS = Object.keys(resourceSchemas) as ResourceKind[]
