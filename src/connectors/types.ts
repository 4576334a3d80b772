import type { z } from 'zod'
import type { ResourceItem, ResourceKind } from '../resources/kinds.ts'
import type { CredentialSchema } from '../vault/mask.ts'
import type { ConnectorEnv } from './env.ts'
import type { InboundOperations } from './shared/inbound.ts'
import type { Notification, SendResult } from './shared/notification.ts'
import type { TransportFailure } from './vendor-error.ts'

// The env lives in its own file so that shared/inbound.ts (whose deferred verification gets one) need not import
// this file, which extends its InboundOperations: the two named each other before.
export type { CachedToken, ConnectorEnv, RequestBudget, TokenCache } from './env.ts'

export const CONNECTOR_CATEGORIES = [
  'communication',
  'psa',
  'monitoring',
  'ticketing',
  'rmm',
  'security',
  'documentation',
  'marketplace',
  'networking',
  'productivity',
] as const
export type ConnectorCategory = (typeof CONNECTOR_CATEGORIES)[number]

/** Decrypted credentials, shaped by the connector's credential schema. Never logged, never returned. */
export type Credentials = Record<string, unknown>

/** At least one group's fields must all be present. */
export interface CredentialRule {
  oneOf: readonly (readonly string[])[]
  description: string
}

/** What a connector is, as data: the registry, the providers route and credential masking read only this. */
export interface ConnectorDescriptor {
  /** The provider name used in the API (`connectwise`, `slack`, …). */
  id: string
  displayName: string
  category: ConnectorCategory
  /** Capability names this provider supports; an integration enables a subset. */
  capabilities: readonly string[]
  /** Every field, with `sensitive`/`required`; each vendor connector also has an optional `baseUrl`. */
  credentialSchema: CredentialSchema
  /**
   * "One of these groups" rules: for each rule, the fields of at least one group must all be given (e.g. a
   * password with its username, or an OAuth token). The providers route shows them; saving checks them.
   */
  credentialRules?: readonly CredentialRule[]
  /** Where the vendor documents the API this connector calls. */
  docsUrl?: string
}

export type VerifyResult =
  | {
      ok: true /** Who the credentials belong to, when the vendor says (account, company, site). */
      account?: string
      /** When the credentials stop working (ISO 8601), for credentials that expire (Datto EDR's yearly API token). */
      expiresAt?: string
      /** Something to act on before it breaks (an expiry close at hand), for the status page. */
      warning?: string
      /**
       * What the user should change, in a sentence: e.g. IT Glue found on the EU server while the URL is blank.
       * The connector never changes a stored destination itself; it advises (the seed's "advise you to update").
       */
      advice?: string
      /** The credential values the advice suggests (non-sensitive fields only), for a form to offer. */
      suggestedCredentials?: Record<string, string>
    }
  | {
      ok: false
      /** The vendor's own error text, secrets removed. */
      error: string
      status?: number
      /** What failed when no vendor answered (see VendorError.failure). */
      failure?: TransportFailure
    }

/**
 * A connector's credential schema (zod, derived from its descriptor's field list by `credentialParser` in
 * define.ts) and the error a stored credential that does not parse gives.
 */
export interface CredentialParser<C> {
  /** `z.infer<typeof schema>` is what the connector's functions receive. */
  schema: z.ZodType<C>
  /** The descriptor's field list the schema was derived from. */
  fields: CredentialSchema
  /** The typed credentials; a field missing or malformed throws the connector's own error (a 4xx, never retried). */
  parse(credentials: Credentials): C
}

/** A connector as its vendor folder writes it, against typed credentials; `defineConnector` adds the parser. */
export type TypedConnector<C> = Omit<Connector<C>, 'credentials'>

export interface Connector<C = Credentials> {
  descriptor: ConnectorDescriptor
  /** How the credentials handed to this connector are parsed, once, at its edge (`defineConnector`). */
  credentials: CredentialParser<unknown>
  /** A real, cheap, authenticated call to the vendor. */
  verify(credentials: C, env: ConnectorEnv): Promise<VerifyResult>
  /** The health probe; defaults to verify. */
  probe?(credentials: C, env: ConnectorEnv): Promise<VerifyResult>
  /** PSA/ticketing operations, for connectors with ticket capabilities. */
  tickets?: TicketOperations<C>
  /** Chat notifications, for connectors with the `send_notification` capability. */
  notifications?: NotificationOperations<C>
  /** Reads at the vendor (devices, alerts, users…), normalized per kind; see resources/kinds.ts. */
  resources?: ResourceOperations<C>
  /** Inbound webhooks: how the vendor's own events are verified, parsed and normalized (src/inbound runs them). */
  inbound?: ConnectorInbound<C>
  /** A chat platform whose credential is a webhook URL (the `/integrations/<provider>` chat door). */
  chat?: ChatWebhookOperations
  /** Telemetry forwarding to an endpoint, for connectors with the `forward_events` capability (src/monitoring). */
  forwarding?: ForwardingOperations<C>
  /** Alert-to-ticket creation as a plain JSON API (src/ticketing's auto-create). */
  genericTickets?: GenericTicketOperations<C>
  /** Change controls linked to PSA tickets: notes, statuses, schedules, members, time, configurations (src/changes). */
  changeManagement?: ChangeManagementOperations<C>
  /** Writes at the vendor a caller may ask for (run a job, isolate a host…), run by src/actions on the engine. */
  // biome-ignore lint/suspicious/noExplicitAny: each action has its own input type; a connector lists them together
  actions?: readonly ConnectorAction<any, C>[]
}

/** A PSA ticket as change management sees it. */
export interface ChangeTicketInfo {
  id: string
  number: string
  summary: string
  status: string
  boardId: string
  boardName: string
  companyId: string
  closed: boolean
  /** Where a person opens it at the vendor. */
  url: string
}

/** A PSA member (technician), found by email. */
export interface PsaMember {
  id: string
  identifier: string
  name: string
  email: string
}

/** A configuration (device) at the PSA. */
export interface PsaConfiguration {
  id: string
  name: string
  typeId: string
  typeName: string
  companyId: string
}

/**
 * What change management asks of a PSA. Every method makes real vendor calls and rejects with a VendorError carrying
 * the vendor's text (secrets scrubbed), its status and Retry-After; none sleeps or retries (deliveries and jobs do).
 */
export interface ChangeManagementOperations<C = Credentials> {
  /** Companies whose name or identifier contains `q`, a page at a time. */
  searchCompanies(
    credentials: C,
    query: { q?: string | undefined; cursor?: string | undefined },
    env: ConnectorEnv,
  ): Promise<PageOf<NamedRef>>
  listBoards(credentials: C, env: ConnectorEnv): Promise<NamedRef[]>
  boardStatuses(credentials: C, boardId: string, env: ConnectorEnv): Promise<NamedRef[]>
  /** Open tickets of `companyId` on `boardIds` (all boards when empty) whose number or summary matches `q`. */
  searchTickets(
    credentials: C,
    query: { companyId: string; boardIds: string[]; q?: string | undefined; cursor?: string | undefined },
    env: ConnectorEnv,
  ): Promise<PageOf<ChangeTicketInfo>>
  getTicket(credentials: C, id: string, env: ConnectorEnv): Promise<ChangeTicketInfo>
  /** An internal note (technicians only, no customer email). */
  addInternalNote(credentials: C, ticketId: string, text: string, env: ConnectorEnv): Promise<void>
  /**
   * Whether the ticket has a note (internal or detail) with this text created at or after `since` (the newest
   * notes looked at): asked before posting again a note an earlier attempt may have posted, its answer lost.
   */
  hasNote(credentials: C, ticketId: string, text: string, since: Date, env: ConnectorEnv): Promise<boolean>
  /** Replaces the ticket's detailed description text with `text` (as a detail note, no customer email). */
  setDetailedDescription(credentials: C, ticketId: string, text: string, env: ConnectorEnv): Promise<void>
  setStatus(credentials: C, ticketId: string, statusId: string, env: ConnectorEnv): Promise<void>
  /** The member whose email is `email` (case-insensitive), or undefined. */
  findMember(credentials: C, email: string, env: ConnectorEnv): Promise<PsaMember | undefined>
  addScheduleEntry(
    credentials: C,
    entry: { ticketId: string; memberId: string; start: Date; end: Date; name: string },
    env: ConnectorEnv,
  ): Promise<void>
  /** Whether the ticket has this schedule entry (member, start and name), asked as `hasNote` is. */
  hasScheduleEntry(
    credentials: C,
    entry: { ticketId: string; memberId: string; start: Date; name: string },
    env: ConnectorEnv,
  ): Promise<boolean>
  addTimeEntry(
    credentials: C,
    entry: { ticketId: string; memberId: string; start: Date; end?: Date | undefined; notes: string },
    env: ConnectorEnv,
  ): Promise<{ id: string }>
  listConfigurationTypes(credentials: C, env: ConnectorEnv): Promise<NamedRef[]>
  /** Active configurations of `companyId` (of `typeIds` only, unless empty), a page at a time (resumable cursor). */
  listConfigurations(
    credentials: C,
    query: { companyId: string; typeIds: string[]; cursor?: string | undefined },
    env: ConnectorEnv,
  ): Promise<PageOf<PsaConfiguration>>
  attachConfigurations(
    credentials: C,
    ticketId: string,
    configurationIds: string[],
    env: ConnectorEnv,
  ): Promise<void>
  /** The vendor's time-entry screen for a ticket, for the change page's "add time" popup. */
  timeEntryUrl(credentials: C, ticketId: string): string
}

/** What an action's `run` and `preview` are told besides the input. */
export interface ActionRunContext {
  /**
   * The same on every attempt of one action (its id): sent as the vendor's idempotency key where it has one,
   * or written where a look-up can find it.
   */
  idempotencyKey: string
  /** True when an earlier attempt may have reached the vendor: look up before sending again, where documented. */
  mayHaveRun: boolean
  timeoutMs?: number | undefined
}

/** What the vendor answered to an action that succeeded. */
export interface ActionResult {
  status: number
  /** What the vendor sent back (scrubbed, bounded), or what the look-up found. */
  body: string
  /** The id of what was created or changed at the vendor, when it says. */
  vendorRef?: string | undefined
}

/**
 * A write at the vendor. `run` sends it exactly once as far as the vendor allows (`idempotency` says how) and
 * rejects with a VendorError carrying the vendor's words and status (4xx other than 408/409/425/429: a refusal,
 * not retried) and Retry-After.
 */
// biome-ignore lint/suspicious/noExplicitAny: each action has its own input type; a connector lists them together
export interface ConnectorAction<I = any, C = Credentials> {
  name: string
  description: string
  input: z.ZodType<I>
  needsApproval: boolean
  /** Dotted paths of input fields that are secrets (a new user's password): masked wherever the action is shown. */
  sensitiveInput?: readonly string[]
  /** How a repeat is avoided: the vendor's idempotency key, a look-up before a retry, or why a repeat is harmless. */
  idempotency: string
  /** What the vendor says it would do (a dry run, a validation), shown to the approver. Rejects like `run`. */
  preview?(credentials: C, input: I, env: ConnectorEnv, run: ActionRunContext): Promise<unknown>
  run(credentials: C, input: I, env: ConnectorEnv, run: ActionRunContext): Promise<ActionResult>
}

export interface ChatWebhookOperations {
  /** What is wrong with a webhook URL for this platform (host, path, missing parameters), in a sentence. */
  webhookUrlProblem(url: URL): string | undefined
  /**
   * True for a webhook URL that nothing but a real post can verify (Teams' legacy Office 365 connectors), so
   * the door shows it as needing a test message until one succeeds.
   */
  verifiedOnlyByPost?(url: URL): boolean
}

export interface ForwardingOperations<C = Credentials> {
  /**
   * POSTs one JSON body to the configured endpoint. Resolves with its status and answer (scrubbed, bounded) on
   * 2xx; anything else rejects with a VendorError carrying the endpoint's text and Retry-After.
   */
  post(
    credentials: C,
    body: unknown,
    env: ConnectorEnv,
    opts?: { timeoutMs?: number },
  ): Promise<{ status: number; body: string }>
}

/** A ticket as Patchbay asks a generic ticketing API to create it (README, "Generic ticketing"). */
export interface GenericTicket {
  title: string
  description: string
  projectKey: string | null
  severity: string
  source: 'patchbay'
  /** Patchbay's reference for the alert (its id), for the receiver's own deduplication. */
  externalRef: string
  alert: { id: string | null; name: string | null; status: string | null; severity: string }
  device: { id: string | null; hostname: string | null } | null
  org: { id: string; name: string | null }
  event: { id: string; type: string; timestamp: string }
  link: string | null
}

export interface CreatedGenericTicket {
  status: number
  /** `id` from the answer (or `key`, `number`), when it has one. */
  id?: string
  url?: string
  /** The answer's body, at most 1,000 characters, the key scrubbed out. */
  body: string
}

export interface GenericTicketOperations<C = Credentials> {
  /**
   * Creates one ticket; `idempotencyKey` is the same on every attempt for one alert. Non-2xx rejects with a
   * VendorError carrying the API's own text.
   */
  create(
    credentials: C,
    ticket: GenericTicket,
    env: ConnectorEnv,
    opts: { idempotencyKey: string; timeoutMs?: number },
  ): Promise<CreatedGenericTicket>
}

export interface ResourceQuery {
  /** The opaque cursor this connector returned as `next`, for the following page. */
  cursor?: string | undefined
  /** Kind-specific filters the connector documents in `filters` (e.g. `status=open`, `siteId`, `deviceId`). */
  filter: Record<string, string>
  /** Page size the caller would like; the connector may return fewer (vendor maximums). */
  limit: number
}

export interface ResourceKindInfo<K extends ResourceKind = ResourceKind> {
  kind: K
  description: string
  /** Filter names this kind accepts, with a line each saying what they do. */
  filters?: Record<string, string>
}

export interface ResourceOperations<C = Credentials> {
  kinds: readonly ResourceKindInfo[]
  /**
   * One page of `kind`, normalized to resources/kinds.ts's shape for that kind. Vendor errors reject with a
   * VendorError carrying the vendor's text (secrets scrubbed) and status; an unknown filter or a cursor this
   * connector did not issue rejects with a VendorError of status 400.
   */
  list<K extends ResourceKind>(
    credentials: C,
    kind: K,
    query: ResourceQuery,
    env: ConnectorEnv,
  ): Promise<PageOf<ResourceItem<K>>>
}

/** A connector's inbound module, plus what only a connector with credentials can add. */
export interface ConnectorInbound<C = Credentials> extends InboundOperations {
  /** Names a status the webhook gives by id (Autotask picklist values), with the linked integration's credentials. */
  resolveTicketStatus?(credentials: C, value: string, env: ConnectorEnv): Promise<string>
  /**
   * The provider of the integration a source may link to, when it is not the inbound provider itself (Graph
   * notifications come from a `microsoft365` integration's tenant). Default: the same id.
   */
  integrationProvider?: string
  /** Creates and removes the webhook at the vendor through its API, where the vendor has one. */
  registration?: InboundRegistrar<C>
}

/** What Patchbay asks the vendor to call, and with what. */
export interface RegistrationRequest {
  /** The source's URL (`…/hooks/<id>`). */
  url: string
  /** The source's current secret (Autotask's SecretKey, Graph's clientState). */
  secret: string
  /** Where the vendor may tell Patchbay it turned the webhook off (Autotask's DeactivationUrl). */
  deactivationUrl: string
  /** The source's name, for the vendor's list of webhooks. */
  name: string
  eventTypes?: string[] | undefined
  /** Vendor choices given at creation (`level`, `objectId`, `resource`, `changeType`); checked by `checkOptions`. */
  options: Record<string, unknown>
}

export interface Registration {
  /** The vendor's id of what was created, for removal and renewal. */
  vendorId: string
  /** When the vendor lets it lapse (Graph subscriptions); renewed before then by a scheduled job. */
  expiresAt?: Date | undefined
}

export interface InboundRegistrar<C = Credentials> {
  /** The problem with the given options, naming the field, or undefined when they do. */
  checkOptions?(options: Record<string, unknown>): { field: string; message: string } | undefined
  /** Rejects with a VendorError carrying the vendor's text (secrets scrubbed). */
  register(credentials: C, request: RegistrationRequest, env: ConnectorEnv): Promise<Registration>
  /** Removes it; resolves when the vendor no longer has it (already gone included). */
  unregister(credentials: C, vendorId: string, env: ConnectorEnv): Promise<void>
  /** Pushes the expiry out; registrations with an `expiresAt` must have it. */
  renew?(credentials: C, vendorId: string, env: ConnectorEnv): Promise<{ expiresAt: Date }>
  /** How long before `expiresAt` the renewal job renews. */
  renewBeforeMs?: number
}

/** A vendor Patchbay only receives webhooks from (no integration credentials): Microsoft Graph, Datto RMM, generic. */
export interface InboundOnlyConnector {
  id: string
  inbound: ConnectorInbound
}

export interface NotificationOperations<C = Credentials> {
  /**
   * Posts one message. Resolves when the platform accepted it; rejects with a NotificationError (status, body,
   * Retry-After) when it did not. Never sleeps or retries: the delivery engine reschedules.
   */
  send(credentials: C, message: Notification, env: ConnectorEnv): Promise<SendResult>
}

export interface NewTicket {
  title: string
  description: string
  /** Board (ConnectWise), queue (Autotask), project (Jira), assignment group… as the vendor names it. */
  queue?: string | undefined
  /** Vendor's own priority value, after the connection's priority mapping. */
  priority?: string | undefined
  status?: string | undefined
  /** The vendor's company/account id, when the vendor needs one. */
  companyId?: string | undefined
  /** Patchbay's reference (the alert id), stored where the vendor allows, for idempotent creation. */
  externalRef?: string | undefined
}

export interface ExternalTicket {
  id: string
  /** Human-facing number or key (e.g. Jira `OPS-12`), when it differs from id. */
  number?: string | undefined
  title?: string | undefined
  status: string
  url: string
  updatedAt?: string | undefined
}

export interface NamedRef {
  id: string
  name: string
}

export interface PageOf<T> {
  items: T[]
  /** Opaque cursor for the next page; absent on the last page. */
  next?: string | undefined
}

export interface TicketOperations<C = Credentials> {
  /**
   * Every ticket needs a company (ConnectWise's Ticket model requires `company`): a connection that creates
   * tickets must name one in `settings.companyId`, or each creation would fail for good.
   */
  companyRequired?: boolean
  createTicket(credentials: C, ticket: NewTicket, env: ConnectorEnv): Promise<ExternalTicket>
  getTicket(credentials: C, id: string, env: ConnectorEnv): Promise<ExternalTicket>
  updateStatus(credentials: C, id: string, status: string, env: ConnectorEnv): Promise<ExternalTicket>
  addNote(
    credentials: C,
    id: string,
    note: { text: string; internal: boolean },
    env: ConnectorEnv,
  ): Promise<void>
  listCompanies(
    credentials: C,
    page: { cursor?: string | undefined },
    env: ConnectorEnv,
  ): Promise<PageOf<NamedRef>>
  /** Boards, queues, projects or groups, where the vendor has them. */
  listQueues?(credentials: C, env: ConnectorEnv): Promise<NamedRef[]>
  /** Tickets changed since `since`, a page at a time, oldest change first, for sync. */
  listChangedTickets(
    credentials: C,
    opts: { since?: Date | undefined; cursor?: string | undefined },
    env: ConnectorEnv,
  ): Promise<PageOf<ExternalTicket>>
}
