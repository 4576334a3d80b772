import type { Hono } from 'hono'
import { errorText, type Json, qs } from './api.ts'
import { DataTable } from './components.tsx'
import { type C, type ConsoleEnv, orgUrl } from './env.ts'
import { Badge, Csrf, Empty, Live, Notice, render, When } from './layout.tsx'

/**
 * The Microsoft 365 CSP/GDAP wizard over /api/v1/onboarding/microsoft365: register the partner app → list the
 * Partner Center customers and choose which to onboard (each into an organization) → each customer's consent and
 * progress, with Microsoft's words and what to fix → resume / re-check. Partner keys only (the API says so).
 */
type Msg = { kind: 'ok' | 'bad'; text: string }

const NOTICES: Record<string, string> = {
  app: 'Partner app saved: Microsoft issued it a Partner Center token.',
  onboarded: 'Onboarding run finished; each chosen customer’s progress is below.',
  resumed: 'Resumed: every chosen customer not yet verified was tried again from where it stopped.',
}

/**
 * Microsoft's admin-consent link for the app in the customer's tenant: a customer's Global Administrator can grant
 * the consent by hand when the partner may not grant it through GDAP
 * (https://learn.microsoft.com/en-us/entra/identity-platform/v2-admin-consent).
 */
function consentLink(app: Json, tenantId: string): string {
  const base = String(app.loginBaseUrl ?? 'https://login.microsoftonline.com').replace(/\/+$/, '')
  return `${base}/${encodeURIComponent(tenantId)}/adminconsent${qs({ client_id: app.appId })}`
}

function AppForm(props: { c: C; app: Json | null; values?: Record<string, string> | undefined }) {
  const v = props.values ?? {}
  return (
    <form method="post" action={orgUrl(props.c, 'microsoft365/app')} aria-label="Partner app">
      <Csrf token={props.c.var.csrf} />
      <label for="m365-appId">
        Application (client) id <span aria-hidden="true">*</span>
      </label>
      <input id="m365-appId" type="text" name="appId" required value={v.appId ?? props.app?.appId ?? ''} />
      <label for="m365-secret">
        Client secret <span aria-hidden="true">*</span>
      </label>
      <input id="m365-secret" name="clientSecret" type="password" required autocomplete="off" />
      <span class="hint">Stored encrypted, never shown again.</span>
      <label for="m365-tenant">
        Partner tenant (id or domain) <span aria-hidden="true">*</span>
      </label>
      <input
        id="m365-tenant"
        type="text"
        name="partnerTenantId"
        required
        value={v.partnerTenantId ?? props.app?.partnerTenantId ?? ''}
      />
      <details>
        <summary>Endpoints (sovereign clouds, stand-ins)</summary>
        <label for="m365-login">Sign-in base URL</label>
        <input
          id="m365-login"
          type="text"
          name="loginBaseUrl"
          value={v.loginBaseUrl ?? props.app?.loginBaseUrl ?? ''}
        />
        <label for="m365-graph">Graph base URL</label>
        <input
          id="m365-graph"
          type="text"
          name="graphBaseUrl"
          value={v.graphBaseUrl ?? props.app?.graphBaseUrl ?? ''}
        />
        <label for="m365-pc">Partner Center base URL</label>
        <input
          id="m365-pc"
          type="text"
          name="partnerCenterBaseUrl"
          value={v.partnerCenterBaseUrl ?? props.app?.partnerCenterBaseUrl ?? ''}
        />
      </details>
      <button type="submit">Save partner app</button>
    </form>
  )
}

const STEPS = ['Partner app', 'Customers', 'Consent', 'Organizations']

export function microsoft365Pages(app: Hono<ConsoleEnv>) {
  const overview = async (c: C, message?: Msg, values?: Record<string, string>) => {
    const [appR, state] = await Promise.all([
      c.var.api('GET', '/onboarding/microsoft365/app'),
      c.var.api('GET', '/onboarding/microsoft365/state'),
    ])
    const notice = NOTICES[c.req.query('done') ?? '']
    const customers: Json[] = state.body?.data ?? []
    const registered = appR.ok ? (appR.body as Json) : null
    return render(
      c,
      'Microsoft 365 onboarding',
      'microsoft365',
      <>
        {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
        {!message && notice ? <Notice kind="ok">{notice}</Notice> : null}
        <ol class="cards" aria-label="Steps">
          {STEPS.map((s) => (
            <li class="card">{s}</li>
          ))}
        </ol>
        {appR.status === 403 ? (
          <Notice kind="info">
            The Microsoft 365 onboarding is run with a partner key; sign in with one to use it.
          </Notice>
        ) : (
          <>
            <h2>1. Partner app</h2>
            {registered ? (
              <>
                <dl class="kv">
                  <dt>Application (client) id</dt>
                  <dd id="m365-app">{registered.appId}</dd>
                  <dt>Partner tenant</dt>
                  <dd>{registered.partnerTenantId}</dd>
                  <dt>Client secret</dt>
                  <dd>(secret, never shown)</dd>
                  <dt>Saved</dt>
                  <dd>
                    <When at={registered.updatedAt} />
                  </dd>
                </dl>
                <details open={!!values}>
                  <summary>Replace the partner app</summary>
                  <AppForm c={c} app={registered} values={values} />
                </details>
                <div class="actions">
                  <a class="button" href={orgUrl(c, 'microsoft365/customers')}>
                    2. Choose customers…
                  </a>
                  <form method="post" action={orgUrl(c, 'microsoft365/resume')}>
                    <Csrf token={c.var.csrf} />
                    <button type="submit">Resume / re-check</button>
                  </form>
                </div>
              </>
            ) : (
              <>
                <Empty>
                  No partner app registered yet. Register the multi-tenant app the partner created.
                </Empty>
                <AppForm c={c} app={null} values={values} />
              </>
            )}
            {registered || customers.length ? <h2>3–4. Consent and organizations</h2> : null}
            <Live url={orgUrl(c, 'microsoft365')}>
              <DataTable
                head={['Customer', 'Progress', 'Consent', 'What to fix', 'Updated']}
                rows={customers}
                row={(x) => (
                  <tr data-customer={x.customerId}>
                    <td>
                      {x.companyName} <span class="hint">{x.domain}</span>
                    </td>
                    <td>
                      <Badge status={x.status} />
                      {x.failedStep ? ` at ${x.failedStep}` : ''}
                      {x.orgId ? (
                        <div class="hint">
                          into <a href={`/o/${x.orgId}/integrations`}>organization</a>
                        </div>
                      ) : null}
                    </td>
                    <td>
                      {registered && x.tenantId ? (
                        <a href={consentLink(registered, x.tenantId)} rel="noreferrer" target="_blank">
                          Consent link for {x.companyName}
                        </a>
                      ) : null}
                    </td>
                    <td>
                      {x.error ? <div class="vendor-message">{x.error}</div> : null}
                      {x.fix ? <div class="fix">{x.fix}</div> : null}
                    </td>
                    <td>
                      <When at={x.updatedAt} />
                    </td>
                  </tr>
                )}
                empty={registered ? <Empty>No customers chosen for onboarding yet.</Empty> : null}
              />
            </Live>
          </>
        )}
      </>,
      message?.kind === 'bad' ? 422 : 200,
    )
  }

  app.get('/o/:org/microsoft365', (c) => overview(c))

  app.post('/o/:org/microsoft365/app', async (c) => {
    const f = await c.req.parseBody()
    const text = (k: string) => (typeof f[k] === 'string' ? (f[k] as string).trim() : '')
    const body: Record<string, string> = {
      appId: text('appId'),
      clientSecret: typeof f.clientSecret === 'string' ? f.clientSecret : '',
      partnerTenantId: text('partnerTenantId'),
    }
    for (const k of ['loginBaseUrl', 'graphBaseUrl', 'partnerCenterBaseUrl']) if (text(k)) body[k] = text(k)
    const r = await c.var.api('PUT', '/onboarding/microsoft365/app', body)
    if (r.ok) return c.redirect(`${orgUrl(c, 'microsoft365')}?done=app`, 303)
    // The form comes back filled in, except the secret; the error is Microsoft's, verbatim.
    const { clientSecret: _secret, ...values } = body
    return overview(c, { kind: 'bad', text: errorText(r) }, values)
  })

  app.post('/o/:org/microsoft365/resume', async (c) => {
    const r = await c.var.api('POST', '/onboarding/microsoft365/resume', {})
    if (r.ok) return c.redirect(`${orgUrl(c, 'microsoft365')}?done=resumed`, 303)
    return overview(c, { kind: 'bad', text: errorText(r) })
  })

  // Step 2: Partner Center's customers, live (so not on the polled overview), each with the organization it goes to.
  const customersPage = async (c: C, message?: Msg) => {
    const [list, orgs] = await Promise.all([
      c.var.api('GET', '/onboarding/microsoft365/customers'),
      c.var.api('GET', `/orgs${qs({ limit: 100 })}`),
    ])
    const items: Json[] = list.body?.data ?? []
    const orgItems: { id: string; name: string }[] = orgs.body?.data ?? [c.var.org]
    return render(
      c,
      'Microsoft 365: choose customers',
      'microsoft365',
      <>
        {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
        {!list.ok ? <Notice kind="bad">{errorText(list)}</Notice> : null}
        {items.length ? (
          <form method="post" action={orgUrl(c, 'microsoft365/customers')} aria-label="Choose customers">
            <Csrf token={c.var.csrf} />
            <DataTable
              head={['Onboard', 'Customer', 'Organization', 'Progress']}
              rows={items}
              row={(x) => {
                const id = String(x.customerId)
                return (
                  <tr>
                    <td>
                      <input
                        type="checkbox"
                        name="customer"
                        value={id}
                        id={`m365-c-${id}`}
                        aria-label={`Onboard ${x.companyName}`}
                      />
                    </td>
                    <td>
                      <label for={`m365-c-${id}`}>{x.companyName}</label> <span class="hint">{x.domain}</span>
                    </td>
                    <td>
                      <select name={`org.${id}`} aria-label={`Organization for ${x.companyName}`}>
                        {orgItems.map((o) => (
                          <option value={o.id} selected={(x.orgId ?? c.var.org.id) === o.id}>
                            {o.name}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td>
                      <Badge status={x.status} />
                    </td>
                  </tr>
                )
              }}
            />
            <button type="submit">Onboard chosen customers</button>
          </form>
        ) : list.ok ? (
          <Empty>Partner Center lists no customers for this partner.</Empty>
        ) : null}
        <a href={orgUrl(c, 'microsoft365')}>Back to the onboarding</a>
      </>,
      message?.kind === 'bad' ? 422 : 200,
    )
  }

  app.get('/o/:org/microsoft365/customers', (c) => customersPage(c))

  app.post('/o/:org/microsoft365/customers', async (c) => {
    const f = await c.req.parseBody({ all: true })
    const raw = f.customer
    const chosen = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter(
      (x): x is string => typeof x === 'string',
    )
    if (!chosen.length) return customersPage(c, { kind: 'bad', text: 'Choose at least one customer.' })
    const customers = chosen.map((customerId) => {
      const org = f[`org.${customerId}`]
      return { customerId, orgId: typeof org === 'string' && org ? org : c.var.org.id }
    })
    const r = await c.var.api('POST', '/onboarding/microsoft365/customers', { customers })
    if (r.ok) return c.redirect(`${orgUrl(c, 'microsoft365')}?done=onboarded`, 303)
    return customersPage(c, { kind: 'bad', text: errorText(r) })
  })
}
