import { z } from 'zod'
import { arr, type Json, obj, str } from '../shared/json.ts'
import { type GraphCredentials as Creds, graphGet, graphWrite, url } from '../shared/microsoft-graph.ts'
import type { ConnectorAction, ConnectorEnv } from '../types.ts'
import { VendorError } from '../vendor-error.ts'

/**
 * Microsoft 365 user lifecycle through Microsoft Graph v1.0, every one waiting for approval. Graph takes no
 * idempotency key on these writes, so each action says how a retry avoids doing twice what the first attempt may
 * have done: a created user is looked up by userPrincipalName, disabling and revoking are states, and a license
 * assignment is a set operation that is read back before it is sent again.
 *
 * Graph answers a refusal with `{error: {code, message}}` (https://learn.microsoft.com/graph/errors), surfaced
 * verbatim by shared/microsoft-graph.ts; a 400 (a UPN already taken, a password too weak, a SKU the tenant has
 * not bought) fails the action at once, a 429/503/504 is retried with Graph's Retry-After.
 */

/** Graph's allowed characters for the part before @ (https://learn.microsoft.com/graph/api/resources/user). */
const upn = z
  .string()
  .max(113)
  .regex(/^[A-Za-z0-9'._!#^~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/, {
    message: "must be alias@verified-domain, the alias of A-Z a-z 0-9 ' . - _ ! # ^ ~",
  })
/** A user's object id or userPrincipalName: Graph's /users/{id | userPrincipalName}. */
const userRef = z.union([z.uuid(), upn], {
  message: "must be the user's object id (UUID) or userPrincipalName",
})
const skuId = z.uuid({ message: 'must be a SKU id (UUID) from the licenses resource' })

const userPath = (id: string, rest = '') => `/users/${encodeURIComponent(id)}${rest}`

/** The user, or undefined when Graph answers 404 (Request_ResourceNotFound). */
async function findUser(
  creds: Creds,
  env: ConnectorEnv,
  id: string,
  select: string,
): Promise<Json | undefined> {
  try {
    const res = await graphGet(creds, env, url(creds, userPath(id), { $select: select }))
    return obj(res.data)
  } catch (err) {
    if (err instanceof VendorError && err.status === 404) return undefined
    throw err
  }
}

// ---- create a user (https://learn.microsoft.com/graph/api/user-post-users) ----

const createInput = z.strictObject({
  displayName: z.string().min(1).max(256),
  mailNickname: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[^\s@()\\[\]";:<>,]+$/, { message: 'must have no spaces or any of @ ( ) \\ [ ] " ; : < > ,' }),
  userPrincipalName: upn,
  /** Sent once in passwordProfile; masked in the action, its audit and its events. */
  password: z.string().min(1).max(256),
  forceChangePasswordNextSignIn: z.boolean().default(true),
  accountEnabled: z.boolean().default(true),
  /** Needed before a license can be assigned (ISO 3166 two-letter code). */
  usageLocation: z
    .string()
    .regex(/^[A-Z]{2}$/, { message: 'must be a two-letter country code such as US or GB' })
    .optional(),
  givenName: z.string().min(1).max(64).optional(),
  surname: z.string().min(1).max(64).optional(),
  jobTitle: z.string().min(1).max(128).optional(),
  department: z.string().min(1).max(64).optional(),
})
type CreateInput = z.infer<typeof createInput>

/** The request body as Graph documents it: the five required properties, then the optional ones given. */
export function createUserBody(input: CreateInput): Record<string, unknown> {
  const optional = Object.fromEntries(
    (['usageLocation', 'givenName', 'surname', 'jobTitle', 'department'] as const)
      .filter((k) => input[k] !== undefined)
      .map((k) => [k, input[k]]),
  )
  return {
    accountEnabled: input.accountEnabled,
    displayName: input.displayName,
    mailNickname: input.mailNickname,
    userPrincipalName: input.userPrincipalName,
    passwordProfile: {
      forceChangePasswordNextSignIn: input.forceChangePasswordNextSignIn,
      password: input.password,
    },
    ...optional,
  }
}

const createUser: ConnectorAction<CreateInput, Creds> = {
  name: 'create_user',
  description: 'Creates a user in the tenant (POST /users), with an initial password',
  input: createInput,
  needsApproval: true,
  sensitiveInput: ['password'],
  idempotency:
    'No key at Graph: a retry first looks the userPrincipalName up (GET /users/{upn}); a user found there with the ' +
    'same mailNickname is taken as the one created, so the user is never created twice. A UPN taken by someone ' +
    "else fails with Graph's 400.",
  async preview(creds, input, env) {
    // Whether the UPN is free, so the approver sees a conflict before approving it.
    const taken = await findUser(creds, env, input.userPrincipalName, 'id,displayName,userPrincipalName')
    return taken
      ? { userPrincipalName: input.userPrincipalName, available: false, existing: taken }
      : { userPrincipalName: input.userPrincipalName, available: true }
  },
  async run(creds, input, env, run) {
    if (run.mayHaveRun) {
      const found = await findUser(
        creds,
        env,
        input.userPrincipalName,
        'id,displayName,userPrincipalName,mailNickname',
      )
      if (found && str(found.mailNickname)?.toLowerCase() === input.mailNickname.toLowerCase()) {
        return { status: 200, body: JSON.stringify({ found }), vendorRef: str(found.id) }
      }
    }
    const res = await graphWrite(creds, env, 'POST', '/users', createUserBody(input))
    return { status: res.status, body: JSON.stringify(res.data ?? null), vendorRef: str(obj(res.data)?.id) }
  },
}

// ---- disable a user and revoke their sessions ----

const disableInput = z.strictObject({ userId: userRef })

const disableUser: ConnectorAction<z.infer<typeof disableInput>, Creds> = {
  name: 'disable_user',
  description:
    "Blocks a user's sign-in (accountEnabled false) and revokes their refresh tokens and session cookies",
  input: disableInput,
  needsApproval: true,
  idempotency:
    'Both are states: accountEnabled false sent again changes nothing, and revoking again only moves the ' +
    'revocation time to now. A retry sends both again.',
  async preview(creds, input, env) {
    const user = await findUser(creds, env, input.userId, 'id,displayName,userPrincipalName,accountEnabled')
    if (!user) throw new VendorError(`Microsoft Graph: no user ${input.userId} in the tenant`, 404)
    return { user }
  },
  async run(creds, input, env) {
    // https://learn.microsoft.com/graph/api/user-update: 204 No Content.
    const patch = await graphWrite(creds, env, 'PATCH', userPath(input.userId), { accountEnabled: false })
    // https://learn.microsoft.com/graph/api/user-revokesigninsessions: 200 {value: true}. Access tokens already
    // issued stay valid until they expire (up to an hour); refresh tokens and browser sessions end now.
    const revoke = await graphWrite(creds, env, 'POST', userPath(input.userId, '/revokeSignInSessions'))
    return {
      status: revoke.status,
      body: JSON.stringify({
        disable: { status: patch.status },
        revokeSignInSessions: { status: revoke.status, body: revoke.data ?? null },
      }),
      vendorRef: input.userId,
    }
  },
}

// ---- assign and remove licenses (https://learn.microsoft.com/graph/api/user-assignlicense) ----

const licenseInput = z
  .strictObject({
    userId: userRef,
    addLicenses: z
      .array(z.strictObject({ skuId, disabledPlans: z.array(z.uuid()).default([]) }))
      .max(50)
      .default([]),
    removeLicenses: z.array(skuId).max(50).default([]),
  })
  .refine((v) => v.addLicenses.length + v.removeLicenses.length > 0, {
    message: 'add or remove at least one license',
    path: ['addLicenses'],
  })
  .refine((v) => !v.addLicenses.some((a) => v.removeLicenses.includes(a.skuId)), {
    message: 'a SKU cannot be both added and removed',
    path: ['removeLicenses'],
  })
type LicenseInput = z.infer<typeof licenseInput>

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()

/** True when the user's licenses already are what the assignment asks for (every add there, every remove gone). */
function applied(user: Json, input: LicenseInput): boolean {
  const have = arr(user.assignedLicenses).map((l) => obj(l) ?? {})
  const adds = input.addLicenses.every((want) => {
    const got = have.find((h) => same(str(h.skuId) ?? '', want.skuId))
    if (!got) return false
    const plans = arr(got.disabledPlans).map((p) => String(p).toLowerCase())
    return (
      plans.length === want.disabledPlans.length &&
      want.disabledPlans.every((p) => plans.includes(p.toLowerCase()))
    )
  })
  const removes = input.removeLicenses.every((id) => !have.some((h) => same(str(h.skuId) ?? '', id)))
  return adds && removes
}

const assignLicenses: ConnectorAction<LicenseInput, Creds> = {
  name: 'assign_licenses',
  description: 'Adds and/or removes licenses (SKUs) on a user in one atomic assignLicense call',
  input: licenseInput,
  needsApproval: true,
  idempotency:
    "A set operation, atomic at Graph: a retry first reads the user's assignedLicenses and sends nothing when every " +
    'license to add is there (with the same disabled plans) and every one to remove is gone.',
  async preview(creds, input, env) {
    const user = await findUser(creds, env, input.userId, 'id,displayName,userPrincipalName,assignedLicenses')
    if (!user) throw new VendorError(`Microsoft Graph: no user ${input.userId} in the tenant`, 404)
    const skus = await graphGet(creds, env, url(creds, '/subscribedSkus'))
    const bySku = new Map(
      arr(obj(skus.data)?.value)
        .map((s) => obj(s) ?? {})
        .map((s) => [String(s.skuId).toLowerCase(), s] as const),
    )
    const describe = (id: string) => {
      const s = bySku.get(id.toLowerCase())
      const enabled = obj(s?.prepaidUnits)?.enabled
      return {
        skuId: id,
        skuPartNumber: str(s?.skuPartNumber) ?? null,
        available:
          s && typeof enabled === 'number' && typeof s.consumedUnits === 'number'
            ? enabled - s.consumedUnits
            : null,
      }
    }
    return {
      user: { id: user.id, displayName: user.displayName, userPrincipalName: user.userPrincipalName },
      add: input.addLicenses.map((a) => describe(a.skuId)),
      remove: input.removeLicenses.map(describe),
    }
  },
  async run(creds, input, env, run) {
    if (run.mayHaveRun) {
      const user = await findUser(creds, env, input.userId, 'id,assignedLicenses')
      if (user && applied(user, input)) {
        return { status: 200, body: JSON.stringify({ found: user }), vendorRef: str(user.id) ?? input.userId }
      }
    }
    const res = await graphWrite(creds, env, 'POST', userPath(input.userId, '/assignLicense'), {
      addLicenses: input.addLicenses.map((a) => ({ disabledPlans: a.disabledPlans, skuId: a.skuId })),
      removeLicenses: input.removeLicenses,
    })
    return {
      status: res.status,
      body: JSON.stringify(res.data ?? null),
      vendorRef: str(obj(res.data)?.id) ?? input.userId,
    }
  },
}

// biome-ignore lint/suspicious/noExplicitAny: each action has its own input type (see ConnectorAction)
export const actions: readonly ConnectorAction<any, Creds>[] = [createUser, disableUser, assignLicenses]
