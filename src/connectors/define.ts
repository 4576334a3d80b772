import { z } from 'zod'
import type { CredentialField, CredentialSchema } from '../vault/mask.ts'
import type {
  Connector,
  ConnectorAction,
  ConnectorEnv,
  ConnectorInbound,
  CredentialParser,
  Credentials,
  InboundRegistrar,
  TypedConnector,
  VerifyResult,
} from './types.ts'
import { failedVerify, VendorError } from './vendor-error.ts'

/**
 * Credentials reach a connector once, at its edge: the features hand over what they decrypted (a plain record),
 * `defineConnector` parses it with the connector's own zod schema, and every vendor function works with the typed
 * value. The schema is derived from the descriptor's field list, so the two cannot drift apart (the field list is
 * what saving checks and the providers route shows; the schema is what the code reads).
 */

/** A field's value as the code reads it: `string` and `url` fields are text (no number or boolean fields exist). */
type FieldValue<F extends CredentialField> = F['type'] extends 'number'
  ? number
  : F['type'] extends 'boolean'
    ? boolean
    : string

/** The typed credentials of a field list: required fields present, the others possibly absent. */
export type CredentialsOf<S extends CredentialSchema> = {
  [K in keyof S as S[K]['required'] extends true ? K : never]: FieldValue<S[K]>
} & {
  [K in keyof S as S[K]['required'] extends true ? never : K]?: FieldValue<S[K]> | undefined
}

/**
 * The value as connectors always read it (the untyped `credential()` helper did the same before): text trimmed, a
 * finite number as its text, anything else (blank, null, an object) absent.
 */
function textValue(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  if (typeof v !== 'string') return undefined
  const t = v.trim()
  return t === '' ? undefined : t
}

function fieldSchema(field: CredentialField): z.ZodType {
  const value: z.ZodType =
    field.type === 'number' ? z.number().finite() : field.type === 'boolean' ? z.boolean() : z.string()
  const read = field.type === 'number' || field.type === 'boolean' ? absentWhenBlank : textValue
  return z.preprocess(read, field.required ? value : value.optional())
}

function absentWhenBlank(v: unknown): unknown {
  return v === null || v === '' ? undefined : v
}

/**
 * The zod schema of a field list. `problem(field)` is the error for a required field that is missing (or a
 * field of the wrong type): the connector's own words, as its code said them before the schema (e.g.
 * `ConnectWise: the connection has no "privateKey"`, status 400).
 */
export function credentialParser<const S extends CredentialSchema>(
  fields: S,
  problem: (field: string) => VendorError,
): CredentialParser<CredentialsOf<S>> {
  const shape: Record<string, z.ZodType> = {}
  for (const [name, field] of Object.entries(fields)) shape[name] = fieldSchema(field)
  // Unknown keys are dropped: a field removed from the list is no longer read.
  const schema = z.object(shape) as unknown as z.ZodType<CredentialsOf<S>>
  return {
    schema,
    fields,
    parse(credentials) {
      const r = schema.safeParse(credentials ?? {})
      if (r.success) return r.data
      // The first field in list order, the order the code reads them in for the vendors that check several.
      const bad = new Set(r.error.issues.map((i) => String(i.path[0] ?? '')))
      const first = Object.keys(fields).find((name) => bad.has(name)) ?? String(r.error.issues[0]?.path[0])
      throw problem(first)
    },
  }
}

/** The usual problem: `<Vendor>: the connection has no "<field>"`, a 400 (a configuration problem, not retried). */
export function missingCredential(vendor: string): (field: string) => VendorError {
  return (field) => new VendorError(`${vendor}: the connection has no "${field}"`, 400)
}

/**
 * The connector the registry holds, built from one written against typed credentials: every method that takes
 * credentials parses them first. A verification or probe whose credentials do not parse fails with the parser's
 * error (as a failed result, like any vendor refusal); every other method rejects with it.
 */
export function defineConnector<C>(credentials: CredentialParser<C>, typed: TypedConnector<C>): Connector {
  const parse = credentials.parse
  const checked =
    (check: (c: C, env: ConnectorEnv) => Promise<VerifyResult>) =>
    async (raw: Credentials, env: ConnectorEnv): Promise<VerifyResult> => {
      let c: C
      try {
        c = parse(raw)
      } catch (err) {
        if (err instanceof VendorError) return failedVerify(err)
        throw err
      }
      return check(c, env)
    }
  const {
    verify,
    probe,
    tickets,
    notifications,
    resources,
    inbound,
    forwarding,
    genericTickets,
    changeManagement,
    actions,
    ...rest
  } = typed
  const out: Connector = { ...rest, credentials, verify: checked(verify) }
  if (probe) out.probe = checked(probe)
  if (tickets) {
    const { listQueues } = tickets
    out.tickets = {
      ...(tickets.companyRequired !== undefined ? { companyRequired: tickets.companyRequired } : {}),
      createTicket: async (raw, ticket, env) => tickets.createTicket(parse(raw), ticket, env),
      getTicket: async (raw, id, env) => tickets.getTicket(parse(raw), id, env),
      updateStatus: async (raw, id, status, env) => tickets.updateStatus(parse(raw), id, status, env),
      addNote: async (raw, id, note, env) => tickets.addNote(parse(raw), id, note, env),
      listCompanies: async (raw, page, env) => tickets.listCompanies(parse(raw), page, env),
      ...(listQueues ? { listQueues: async (raw, env) => listQueues(parse(raw), env) } : {}),
      listChangedTickets: async (raw, opts, env) => tickets.listChangedTickets(parse(raw), opts, env),
    }
  }
  if (notifications) {
    out.notifications = { send: async (raw, message, env) => notifications.send(parse(raw), message, env) }
  }
  if (resources) {
    const r = resources
    out.resources = {
      kinds: r.kinds,
      list: async (raw, kind, query, env) => r.list(parse(raw), kind, query, env),
    }
  }
  if (inbound) out.inbound = inboundOf(inbound, parse)
  if (forwarding) {
    out.forwarding = { post: async (raw, body, env, opts) => forwarding.post(parse(raw), body, env, opts) }
  }
  if (genericTickets) {
    out.genericTickets = {
      create: async (raw, ticket, env, opts) => genericTickets.create(parse(raw), ticket, env, opts),
    }
  }
  if (changeManagement) {
    const m = changeManagement
    out.changeManagement = {
      searchCompanies: async (raw, query, env) => m.searchCompanies(parse(raw), query, env),
      listBoards: async (raw, env) => m.listBoards(parse(raw), env),
      boardStatuses: async (raw, boardId, env) => m.boardStatuses(parse(raw), boardId, env),
      searchTickets: async (raw, query, env) => m.searchTickets(parse(raw), query, env),
      getTicket: async (raw, id, env) => m.getTicket(parse(raw), id, env),
      addInternalNote: async (raw, ticketId, text, env) => m.addInternalNote(parse(raw), ticketId, text, env),
      hasNote: async (raw, ticketId, text, since, env) => m.hasNote(parse(raw), ticketId, text, since, env),
      setDetailedDescription: async (raw, ticketId, text, env) =>
        m.setDetailedDescription(parse(raw), ticketId, text, env),
      setStatus: async (raw, ticketId, statusId, env) => m.setStatus(parse(raw), ticketId, statusId, env),
      findMember: async (raw, email, env) => m.findMember(parse(raw), email, env),
      addScheduleEntry: async (raw, entry, env) => m.addScheduleEntry(parse(raw), entry, env),
      hasScheduleEntry: async (raw, entry, env) => m.hasScheduleEntry(parse(raw), entry, env),
      addTimeEntry: async (raw, entry, env) => m.addTimeEntry(parse(raw), entry, env),
      listConfigurationTypes: async (raw, env) => m.listConfigurationTypes(parse(raw), env),
      listConfigurations: async (raw, query, env) => m.listConfigurations(parse(raw), query, env),
      attachConfigurations: async (raw, ticketId, ids, env) =>
        m.attachConfigurations(parse(raw), ticketId, ids, env),
      timeEntryUrl: (raw, ticketId) => m.timeEntryUrl(parse(raw), ticketId),
    }
  }
  if (actions) out.actions = actions.map((a) => actionOf(a, parse))
  return out
}

// biome-ignore lint/suspicious/noExplicitAny: each action has its own input type (see ConnectorAction)
function actionOf<C>(a: ConnectorAction<any, C>, parse: (raw: Credentials) => C): ConnectorAction {
  const { preview, run, ...rest } = a
  return {
    ...rest,
    ...(preview ? { preview: async (raw, input, env, ctx) => preview(parse(raw), input, env, ctx) } : {}),
    run: async (raw, input, env, ctx) => run(parse(raw), input, env, ctx),
  }
}

/**
 * An inbound module whose registration takes another connector's credentials (an inbound-only vendor such as Graph,
 * whose subscriptions are made with a linked `microsoft365` integration's): parsed by that connector's parser, at
 * this edge, exactly as `defineConnector` parses a connector's own.
 */
export function defineInbound<C>(
  credentials: CredentialParser<C>,
  typed: ConnectorInbound<C>,
): ConnectorInbound {
  return inboundOf(typed, credentials.parse)
}

function inboundOf<C>(inbound: ConnectorInbound<C>, parse: (raw: Credentials) => C): ConnectorInbound {
  const { resolveTicketStatus, registration, ...rest } = inbound
  const out: ConnectorInbound = { ...rest }
  if (resolveTicketStatus) {
    out.resolveTicketStatus = async (raw, value, env) => resolveTicketStatus(parse(raw), value, env)
  }
  if (registration) out.registration = registrarOf(registration, parse)
  return out
}

function registrarOf<C>(r: InboundRegistrar<C>, parse: (raw: Credentials) => C): InboundRegistrar {
  const { register, unregister, renew, ...rest } = r
  return {
    ...rest,
    register: async (raw, request, env) => register(parse(raw), request, env),
    unregister: async (raw, vendorId, env) => unregister(parse(raw), vendorId, env),
    ...(renew ? { renew: async (raw, vendorId, env) => renew(parse(raw), vendorId, env) } : {}),
  }
}
