import type { Hono } from 'hono'
import type { AppContext } from '../context.ts'
import { type Api, errorText, type Json, qs } from './api.ts'
import { DataTable, FilterForm } from './components.tsx'
import { type C, type ConsoleEnv, orgUrl } from './env.ts'
import { Badge, Csrf, Empty, Live, Notice, render, When } from './layout.tsx'

interface Field {
  type: 'string' | 'url' | 'number' | 'boolean'
  sensitive: boolean
  required: boolean
  destination?: boolean
  description?: string
  default?: unknown
}
interface Provider {
  name: string
  display_name: string
  category: string
  capabilities: string[]
  credential_schema: Record<string, Field>
  is_configured: boolean
}

async function providers(api: Api, orgId: string): Promise<Provider[]> {
  const r = await api('GET', `/integrations/providers${qs({ orgId })}`)
  return r.body?.data ?? []
}

/** Form fields `cred.<name>` as the credential object the schema describes; blank fields are left out. */
function credentialsFrom(form: Record<string, unknown>, schema: Record<string, Field>) {
  const out: Record<string, unknown> = {}
  for (const [name, f] of Object.entries(schema)) {
    const raw = form[`cred.${name}`]
    if (f.type === 'boolean') {
      if (raw !== undefined) out[name] = raw === 'on' || raw === 'true'
      continue
    }
    if (typeof raw !== 'string' || raw.trim() === '') continue
    out[name] = f.type === 'number' && !Number.isNaN(Number(raw)) ? Number(raw) : raw.trim()
  }
  return out
}

function CredentialFields(props: {
  schema: Record<string, Field>
  values?: Record<string, unknown>
  only?: (f: Field) => boolean
}) {
  return (
    <>
      {Object.entries(props.schema)
        .filter(([, f]) => (props.only ? props.only(f) : true))
        .map(([name, f]) => {
          const id = `cred-${name}`
          const v = props.values?.[name]
          return f.type === 'boolean' ? (
            <label class="check" for={id}>
              <input type="checkbox" id={id} name={`cred.${name}`} checked={v === true || v === 'on'} />
              {name}
              {f.description ? <span class="hint">{f.description}</span> : null}
            </label>
          ) : (
            <>
              <label for={id}>
                {name}
                {f.required ? (
                  <span class="req" aria-hidden="true">
                    {' '}
                    *
                  </span>
                ) : null}
                {f.description ? <span class="hint">{f.description}</span> : null}
                {f.destination ? (
                  <span class="hint">Decides where requests go: changing it needs the secrets again.</span>
                ) : null}
              </label>
              <input
                id={id}
                name={`cred.${name}`}
                type={
                  f.sensitive
                    ? 'password'
                    : f.type === 'number'
                      ? 'number'
                      : f.type === 'url'
                        ? 'url'
                        : 'text'
                }
                required={f.required}
                aria-required={f.required ? 'true' : undefined}
                autocomplete={f.sensitive ? 'new-password' : 'off'}
                value={f.sensitive || v === undefined || v === null ? undefined : String(v)}
                placeholder={f.default !== undefined ? `default ${String(f.default)}` : undefined}
              />
            </>
          )
        })}
    </>
  )
}

function Strip(props: { history: Json[] }) {
  const h = props.history.slice(-96)
  const ok = h.filter((p) => p.ok).length
  return (
    <div
      class="strip"
      role="img"
      aria-label={`${h.length} probes in the last 24 hours, ${ok} succeeded, ${h.length - ok} failed`}
    >
      {h.length ? (
        h.map((p) => (
          <span
            class={p.ok ? 'ok' : 'bad'}
            title={`${p.probed_at}: ${p.ok ? 'ok' : (p.error ?? 'failed')}`}
          />
        ))
      ) : (
        <span title="No probes yet" />
      )}
    </div>
  )
}

/** A routing rule's form: empty to add one, filled in to edit one in place (PATCH). */
function RuleForm(props: {
  c: C
  integrations: Json[]
  capabilities: string[]
  label: (id: string | null) => string
  rule?: Json
}) {
  const { c, integrations, label, rule } = props
  const capabilities =
    rule && !props.capabilities.includes(rule.capability)
      ? [rule.capability, ...props.capabilities]
      : props.capabilities
  return (
    <form method="post" action={orgUrl(c, rule ? `routing/${rule.id}/edit` : 'routing')}>
      <Csrf token={c.var.csrf} />
      <label for="rr-capability">Capability</label>
      <select id="rr-capability" name="capability">
        {capabilities.map((k) => (
          <option value={k} selected={rule?.capability === k}>
            {k}
          </option>
        ))}
      </select>
      <label for="rr-integration">Integration</label>
      <select id="rr-integration" name="integration_id">
        {integrations.map((i) => (
          <option value={i.id} selected={rule?.integration_id === i.id}>
            {label(i.id)}
          </option>
        ))}
      </select>
      <label for="rr-fallback">Fallback</label>
      <select id="rr-fallback" name="fallback_integration_id">
        <option value="">None</option>
        {integrations.map((i) => (
          <option value={i.id} selected={rule?.fallback_integration_id === i.id}>
            {label(i.id)}
          </option>
        ))}
      </select>
      <label for="rr-priority">
        Priority <span class="hint">Higher is evaluated first.</span>
      </label>
      <input type="number" id="rr-priority" name="priority" value={String(rule?.priority ?? 0)} />
      <label for="rr-conditions">
        Conditions{' '}
        <span class="hint">
          JSON, e.g. [{'{'}"field":"severity","operator":"eq","value":"critical"{'}'}]; blank matches always.
        </span>
      </label>
      <textarea id="rr-conditions" name="conditions" rows={3}>
        {rule?.conditions?.length ? JSON.stringify(rule.conditions) : ''}
      </textarea>
      <label class="check">
        <input type="checkbox" name="is_default" checked={Boolean(rule?.is_default)} /> The capability's
        catch-all rule
      </label>
      <div class="actions">
        <button type="submit" class="primary">
          {rule ? 'Save rule' : 'Add rule'}
        </button>
      </div>
    </form>
  )
}

export function integrationPages(app: Hono<ConsoleEnv>, _ctx: AppContext) {
  app.get('/o/:org/integrations', async (c) => {
    const category = c.req.query('category') || undefined
    const [list, provs, status] = await Promise.all([
      c.var.api('GET', `/integrations${qs({ orgId: c.var.org.id, category, per_page: 100 })}`),
      providers(c.var.api, c.var.org.id),
      c.var.api('GET', `/integrations/status${qs({ orgId: c.var.org.id, category })}`),
    ])
    if (!list.ok)
      return render(c, 'Integrations', 'integrations', <Notice kind="bad">{errorText(list)}</Notice>)
    const health = new Map<string, Json>((status.body?.data?.integrations ?? []).map((h: Json) => [h.id, h]))
    const categories = [...new Set(provs.map((p) => p.category))].sort()
    const items: Json[] = list.body.data
    return render(
      c,
      'Integrations',
      'integrations',
      <>
        <div class="actions">
          <a class="button primary" href={orgUrl(c, 'integrations/new')}>
            + Add integration
          </a>
        </div>
        <FilterForm label={null} submit="Filter">
          <label for="category">Category</label>
          <select id="category" name="category">
            <option value="">All</option>
            {categories.map((k) => (
              <option value={k} selected={k === category}>
                {k}
              </option>
            ))}
          </select>
        </FilterForm>
        <Live url={c.req.url}>
          <DataTable
            head={['Integration', 'Category', 'Status', 'Health', 'Last probe']}
            rows={items}
            row={(i) => {
              const h = health.get(i.id)
              return (
                <tr>
                  <td>
                    <a href={orgUrl(c, `integrations/${i.id}`)}>
                      {i.display_name}
                      {i.name ? ` · ${i.name}` : ''}
                    </a>
                    {i.is_default ? <span class="muted"> (default)</span> : null}
                    {i.metadata?.last_error ? <div class="muted">{String(i.metadata.last_error)}</div> : null}
                  </td>
                  <td>{i.category}</td>
                  <td>
                    <Badge status={i.status} />
                  </td>
                  <td>{h ? <Badge status={h.health} /> : null}</td>
                  <td>
                    <When at={i.last_probe_at} />
                  </td>
                </tr>
              )
            }}
            empty={<Empty>No integrations{category ? ` in ${category}` : ''} yet.</Empty>}
          />
        </Live>
      </>,
    )
  })

  app.get('/o/:org/integrations/new', async (c) => {
    const provs = await providers(c.var.api, c.var.org.id)
    const byCategory = new Map<string, Provider[]>()
    for (const p of provs) byCategory.set(p.category, [...(byCategory.get(p.category) ?? []), p])
    return render(
      c,
      'Add integration: choose a provider',
      'integrations',
      <div class="providers">
        {[...byCategory.entries()].map(([cat, ps]) => (
          <section>
            <h2>{cat}</h2>
            <ul>
              {ps.map((p) => (
                <li>
                  <a href={orgUrl(c, `integrations/new/${encodeURIComponent(p.name)}`)}>{p.display_name}</a>
                  {p.is_configured ? <span class="muted"> (configured)</span> : null}
                </li>
              ))}
            </ul>
          </section>
        ))}
      </div>,
    )
  })

  const addForm = async (c: C, values: Record<string, unknown> = {}, error?: string, status = 200) => {
    const name = c.req.param('provider') ?? ''
    const p = (await providers(c.var.api, c.var.org.id)).find((x) => x.name === name)
    if (!p)
      return render(
        c,
        'Not found',
        'integrations',
        <Notice kind="bad">Not found: no such provider.</Notice>,
        404,
      )
    const caps = (values.cap as string[] | undefined) ?? p.capabilities
    return render(
      c,
      `Add ${p.display_name}`,
      'integrations',
      <>
        {error ? <Notice kind="bad">{error}</Notice> : null}
        <form method="post" action={orgUrl(c, `integrations/new/${encodeURIComponent(p.name)}`)}>
          <Csrf token={c.var.csrf} />
          <input type="hidden" name="provider" value={p.name} />
          <label for="instance-name">
            Instance name <span class="hint">Only needed for a second instance of this provider.</span>
          </label>
          <input type="text" id="instance-name" name="name" value={(values.name as string) ?? ''} />
          <fieldset>
            <legend>Credentials</legend>
            <CredentialFields schema={p.credential_schema} values={values} />
          </fieldset>
          <fieldset>
            <legend>Capabilities</legend>
            {p.capabilities.map((cap) => (
              <label class="check">
                <input type="checkbox" name="cap" value={cap} checked={caps.includes(cap)} />
                {cap}
              </label>
            ))}
          </fieldset>
          <div class="actions">
            <button type="button" hx-post={orgUrl(c, 'integrations/test')} hx-target="#test-result">
              Test connection
            </button>
            <button type="submit" class="primary">
              Save
            </button>
          </div>
          <div id="test-result" aria-live="polite" />
        </form>
      </>,
      status,
    )
  }

  app.get('/o/:org/integrations/new/:provider', (c) => addForm(c))

  app.post('/o/:org/integrations/test', async (c) => {
    const form = await c.req.parseBody({ all: true })
    const p = (await providers(c.var.api, c.var.org.id)).find((x) => x.name === form.provider)
    if (!p) return c.html(<Notice kind="bad">Unknown provider.</Notice>)
    const body: Record<string, unknown> = {
      provider: p.name,
      credentials: credentialsFrom(form, p.credential_schema),
      orgId: c.var.org.id,
    }
    if (typeof form.integration_id === 'string') body.integration_id = form.integration_id
    const r = await c.var.api('POST', '/integrations/test', body)
    if (!r.body?.data) return c.html(<Notice kind="bad">{errorText(r)}</Notice>)
    const d = r.body.data
    // The vendor's own words, verbatim (the API has already removed any secret from them).
    return c.html(
      d.ok ? (
        <Notice kind="ok">
          {r.body.message}
          {d.account ? ` Account: ${d.account}.` : ''}
        </Notice>
      ) : (
        <Notice kind="bad">
          <strong>Test failed{d.vendor_status ? ` (vendor answered HTTP ${d.vendor_status})` : ''}:</strong>{' '}
          <span class="vendor-message">{d.error}</span>
        </Notice>
      ),
    )
  })

  app.post('/o/:org/integrations/new/:provider', async (c) => {
    const form = await c.req.parseBody({ all: true })
    const p = (await providers(c.var.api, c.var.org.id)).find((x) => x.name === c.req.param('provider'))
    if (!p) return addForm(c)
    const caps = ([] as unknown[]).concat(form.cap ?? []).map(String)
    const values: Record<string, unknown> = { ...form, cap: caps }
    const name = typeof form.name === 'string' && form.name.trim() ? form.name.trim() : undefined
    const r = await c.var.api('POST', '/integrations', {
      provider: p.name,
      ...(name ? { name } : {}),
      credentials: credentialsFrom(form, p.credential_schema),
      enabled_capabilities: caps,
      orgId: c.var.org.id,
    })
    if (!r.ok) return addForm(c, values, errorText(r), r.status === 404 ? 404 : 422)
    return c.redirect(orgUrl(c, `integrations/${r.body.data.id}`), 303)
  })

  const detail = async (c: C, message?: { kind: 'ok' | 'bad'; text: string }) => {
    const id = c.req.param('id') ?? ''
    const r = await c.var.api('GET', `/integrations/${encodeURIComponent(id)}`)
    if (!r.ok || r.body.data.org_id !== c.var.org.id)
      return render(c, 'Not found', 'integrations', <Notice kind="bad">Not found.</Notice>, 404)
    const i = r.body.data
    const [provs, status] = await Promise.all([
      providers(c.var.api, c.var.org.id),
      c.var.api('GET', `/integrations/status${qs({ orgId: c.var.org.id, provider: i.provider })}`),
    ])
    const p = provs.find((x) => x.name === i.provider)
    const h: Json = (status.body?.data?.integrations ?? []).find((x: Json) => x.id === i.id)
    const post = (action: string, label: string, cls?: string) => (
      <form method="post" action={orgUrl(c, `integrations/${i.id}/${action}`)} class="inline">
        <Csrf token={c.var.csrf} />
        <button type="submit" class={cls}>
          {label}
        </button>
      </form>
    )
    return render(
      c,
      `${i.display_name}${i.name ? ` · ${i.name}` : ''}`,
      'integrations',
      <>
        {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
        <Live url={orgUrl(c, `integrations/${i.id}`)}>
          <dl class="kv">
            <dt>Status</dt>
            <dd>
              <Badge status={i.status} /> {h ? <Badge status={h.health} /> : null}
              {h?.flapping ? <Badge status="flapping" /> : null}
            </dd>
            <dt>Provider</dt>
            <dd>
              {i.provider} ({i.category}){i.is_default ? ', default instance' : ''}
            </dd>
            <dt>Capabilities</dt>
            <dd>{i.enabled_capabilities.join(', ')}</dd>
            <dt>Verified</dt>
            <dd>
              <When at={i.verified_at} />
            </dd>
            {i.metadata?.last_error ? (
              <>
                <dt>Last error</dt>
                <dd class="vendor-message">{String(i.metadata.last_error)}</dd>
              </>
            ) : null}
            {h?.warning ? (
              <>
                <dt>Warning</dt>
                <dd>{h.warning}</dd>
              </>
            ) : null}
          </dl>
          <h2>Credentials</h2>
          <dl class="kv">
            {Object.entries(i.credentials).map(([k, v]) => (
              <>
                <dt>{k}</dt>
                <dd>
                  {p?.credential_schema[k]?.sensitive ? (
                    <span>
                      •••••••• <span class="hint">(secret, never shown)</span>
                    </span>
                  ) : v === null ? (
                    <span class="muted">—</span>
                  ) : (
                    String(v)
                  )}
                </dd>
              </>
            ))}
          </dl>
          <h2>Verification history (24 hours)</h2>
          {h ? (
            <>
              <Strip history={h.history} />
              <p class="muted">
                Uptime {h.uptime_24h === null ? '—' : `${Math.round(h.uptime_24h * 1000) / 10}%`}; next probe{' '}
                <When at={h.next_probe_at} />
              </p>
              <ol class="timeline">
                {[...h.history]
                  .reverse()
                  .slice(0, 10)
                  .map((x: Json) => (
                    <li>
                      <When at={x.probed_at} /> {x.ok ? 'ok' : `failed: ${x.error ?? ''}`} ({x.latency_ms} ms)
                    </li>
                  ))}
              </ol>
            </>
          ) : (
            <Empty>No probes yet.</Empty>
          )}
        </Live>
        <div class="actions">
          {i.status === 'inactive' ? post('activate', 'Activate') : post('disable', 'Disable')}
          {i.is_default ? null : post('default', 'Make default instance')}
          <a class="button danger" href={orgUrl(c, `integrations/${i.id}/delete`)}>
            Delete…
          </a>
        </div>
        {p ? (
          <details>
            <summary>Rotate credentials</summary>
            <form method="post" action={orgUrl(c, `integrations/${i.id}/rotate`)}>
              <Csrf token={c.var.csrf} />
              <input type="hidden" name="provider" value={i.provider} />
              <input type="hidden" name="integration_id" value={i.id} />
              <CredentialFields schema={p.credential_schema} only={(f) => f.sensitive} />
              <div class="actions">
                <button type="button" hx-post={orgUrl(c, 'integrations/test')} hx-target="#rotate-result">
                  Test connection
                </button>
                <button type="submit" class="primary">
                  Save new credentials
                </button>
              </div>
              <div id="rotate-result" aria-live="polite" />
            </form>
          </details>
        ) : null}
      </>,
      message?.kind === 'bad' ? 422 : 200,
    )
  }

  // A successful action sends the browser back to the detail page (a reload repeats nothing), with one of these
  // fixed sentences; text from the URL is never shown.
  const NOTICES: Record<string, string> = {
    disable: 'Integration disabled.',
    activate: 'Integration activated.',
    default: 'This is now the default instance.',
    rotate: 'Credentials saved; they are being verified again.',
  }
  app.get('/o/:org/integrations/:id', (c) => {
    const notice = NOTICES[c.req.query('notice') ?? '']
    return detail(c, notice ? { kind: 'ok', text: notice } : undefined)
  })
  const done = (c: C, id: string, notice: string) =>
    c.redirect(orgUrl(c, `integrations/${encodeURIComponent(id)}?notice=${notice}`), 303)

  for (const action of ['disable', 'activate', 'default'] as const) {
    app.post(`/o/:org/integrations/:id/${action}`, async (c) => {
      const id = c.req.param('id')
      const r = await c.var.api('POST', `/integrations/${encodeURIComponent(id)}/${action}`)
      if (r.status === 404) return detail(c)
      return r.ok ? done(c, id, action) : detail(c, { kind: 'bad', text: errorText(r) })
    })
  }

  app.post('/o/:org/integrations/:id/rotate', async (c) => {
    const id = c.req.param('id')
    const form = await c.req.parseBody({ all: true })
    const got = await c.var.api('GET', `/integrations/${encodeURIComponent(id)}`)
    if (!got.ok) return detail(c)
    const p = (await providers(c.var.api, c.var.org.id)).find((x) => x.name === got.body.data.provider)
    const credentials = p ? credentialsFrom(form, p.credential_schema) : {}
    const r = await c.var.api('PATCH', `/integrations/${encodeURIComponent(id)}`, { credentials })
    return r.ok ? done(c, id, 'rotate') : detail(c, { kind: 'bad', text: errorText(r) })
  })

  app.get('/o/:org/integrations/:id/delete', async (c) => {
    const id = c.req.param('id')
    const r = await c.var.api('GET', `/integrations/${encodeURIComponent(id)}`)
    if (!r.ok || r.body.data.org_id !== c.var.org.id) return detail(c)
    const i = r.body.data
    return render(
      c,
      `Delete ${i.display_name}?`,
      'integrations',
      <form method="post" action={orgUrl(c, `integrations/${i.id}/delete`)}>
        <Csrf token={c.var.csrf} />
        <p>
          The integration leaves lists and routing and its stored credentials are erased. Routing rules that
          point at it lose their target; they are named after the deletion.
        </p>
        <div class="actions">
          <button type="submit" class="danger">
            Delete
          </button>
          <a class="button" href={orgUrl(c, `integrations/${i.id}`)}>
            Cancel
          </a>
        </div>
      </form>,
    )
  })

  app.post('/o/:org/integrations/:id/delete', async (c) => {
    const r = await c.var.api('DELETE', `/integrations/${encodeURIComponent(c.req.param('id'))}`)
    if (!r.ok) return detail(c, { kind: 'bad', text: errorText(r) })
    const rules: Json[] = r.body.data.affected_routing_rules
    return render(
      c,
      'Integration deleted',
      'integrations',
      <>
        <Notice kind="ok">Integration deleted.</Notice>
        {rules.length ? (
          <>
            <p>These routing rules lost their target:</p>
            <ul>
              {rules.map((x) => (
                <li>
                  {x.capability} ({x.role}) — rule {x.id}
                </li>
              ))}
            </ul>
          </>
        ) : (
          <p>No routing rule pointed at it.</p>
        )}
        <a href={orgUrl(c, 'integrations')}>Back to integrations</a>
      </>,
    )
  })

  app.get('/o/:org/status', async (c) => {
    const r = await c.var.api('GET', `/integrations/status${qs({ orgId: c.var.org.id })}`)
    if (!r.ok) return render(c, 'Integration status', 'status', <Notice kind="bad">{errorText(r)}</Notice>)
    const d = r.body.data
    const cards: [string, number][] = [
      ['Connected', d.summary.connected],
      ['Disconnected', d.summary.disconnected],
      ['Needs attention', d.summary.needs_attention],
    ]
    return render(
      c,
      'Integration status',
      'status',
      <Live url={c.req.url}>
        <div class="cards">
          {cards.map(([label, n]) => (
            <div class="card">
              <div class="n">{n}</div>
              <div>{label}</div>
            </div>
          ))}
        </div>
        <DataTable
          head={['Integration', 'Health', 'Last 24 hours', 'Uptime', 'Latest probe']}
          rows={d.integrations}
          row={(h: Json) => (
            <tr data-integration={h.id}>
              <td>
                <a href={orgUrl(c, `integrations/${h.id}`)}>
                  {h.display_name}
                  {h.name ? ` · ${h.name}` : ''}
                </a>
                <div>
                  <Badge status={h.status} />
                </div>
              </td>
              <td>
                <Badge status={h.health} /> {h.flapping ? <span class="badge warn">flapping</span> : null}
                {h.last_error ? <div class="muted vendor-message">{h.last_error}</div> : null}
                {h.warning ? <div class="muted">{h.warning}</div> : null}
              </td>
              <td>
                <Strip history={h.history} />
              </td>
              <td>{h.uptime_24h === null ? '—' : `${Math.round(h.uptime_24h * 1000) / 10}%`}</td>
              <td>
                <When at={h.latest_probe?.probed_at} />
              </td>
            </tr>
          )}
          empty={<Empty>No integrations yet.</Empty>}
        />
      </Live>,
    )
  })

  // Routing rules and the dry run: which integration an operation of a capability would go to, and why.
  const routing = async (c: C, result?: Json, error?: string, form: Record<string, unknown> = {}) => {
    const [rules, list] = await Promise.all([
      c.var.api('GET', `/routing-rules${qs({ orgId: c.var.org.id, per_page: 100 })}`),
      c.var.api('GET', `/integrations${qs({ orgId: c.var.org.id, per_page: 100 })}`),
    ])
    const integrations: Json[] = list.body?.data ?? []
    const label = (id: string | null) => {
      const i = integrations.find((x) => x.id === id)
      return i ? `${i.display_name}${i.name ? ` · ${i.name}` : ''}` : (id ?? '—')
    }
    const capabilities = [...new Set(integrations.flatMap((i) => i.enabled_capabilities as string[]))].sort()
    const items: Json[] = rules.body?.data ?? []
    return render(
      c,
      'Routing rules',
      'routing',
      <>
        {error ? <Notice kind="bad">{error}</Notice> : null}
        <DataTable
          head={['Capability', 'Target', 'Fallback', 'Priority', 'Conditions', '']}
          rows={items}
          row={(r) => (
            <tr>
              <td>
                {r.capability}
                {r.is_default ? <span class="muted"> (default)</span> : null}
              </td>
              <td>{label(r.integration_id)}</td>
              <td>{label(r.fallback_integration_id)}</td>
              <td>{r.priority}</td>
              <td>
                <code>{r.conditions.length ? JSON.stringify(r.conditions) : 'always'}</code>
              </td>
              <td class="actions">
                <a class="button" href={orgUrl(c, `routing/${r.id}/edit`)} aria-label={`Edit rule ${r.id}`}>
                  Edit
                </a>
                <form method="post" action={orgUrl(c, `routing/${r.id}/delete`)}>
                  <Csrf token={c.var.csrf} />
                  <button type="submit" class="danger" aria-label={`Delete rule ${r.id}`}>
                    Delete
                  </button>
                </form>
              </td>
            </tr>
          )}
          empty={<Empty>No routing rules: each capability goes to the provider's default instance.</Empty>}
        />
        <details>
          <summary>Add a rule</summary>
          <RuleForm c={c} integrations={integrations} capabilities={capabilities} label={label} />
        </details>
        <h2>Dry run</h2>
        <form method="post" action={orgUrl(c, 'routing/evaluate')}>
          <Csrf token={c.var.csrf} />
          <label for="dr-capability">Capability</label>
          <select id="dr-capability" name="capability">
            {capabilities.map((k) => (
              <option value={k} selected={form.capability === k}>
                {k}
              </option>
            ))}
          </select>
          <label for="dr-context">
            Context{' '}
            <span class="hint">
              JSON the conditions are matched against, e.g. {'{'}"severity":"critical"{'}'}
            </span>
          </label>
          <textarea id="dr-context" name="context" rows={3}>
            {typeof form.context === 'string' ? form.context : ''}
          </textarea>
          <div class="actions">
            <button type="submit">Evaluate</button>
          </div>
        </form>
        {result ? (
          <section class="card" aria-live="polite" id="dry-run">
            <p>
              <strong>{result.integration ? `→ ${label(result.integration.id)}` : 'No integration'}</strong>
              {result.via ? ` (via ${result.via.replaceAll('_', ' ')})` : ''}: {result.reason}
            </p>
            <ol class="timeline">
              {result.trace.map((x: Json) => (
                <li>
                  rule {x.rule_id} (priority {x.priority}): {x.outcome} — {x.reason}
                </li>
              ))}
            </ol>
          </section>
        ) : null}
      </>,
      error ? 422 : 200,
    )
  }
  const parseJson = (text: unknown): { ok: true; value: unknown } | { ok: false } => {
    if (typeof text !== 'string' || !text.trim()) return { ok: true, value: undefined }
    try {
      return { ok: true, value: JSON.parse(text) }
    } catch {
      return { ok: false }
    }
  }
  app.get('/o/:org/routing', (c) => routing(c))
  app.post('/o/:org/routing', async (c) => {
    const form = await c.req.parseBody()
    const conditions = parseJson(form.conditions)
    if (!conditions.ok) return routing(c, undefined, 'Conditions are not valid JSON.')
    const body: Record<string, unknown> = {
      capability: form.capability,
      integration_id: form.integration_id,
      priority: Number(form.priority ?? 0) || 0,
      is_default: form.is_default === 'on',
      orgId: c.var.org.id,
    }
    if (typeof form.fallback_integration_id === 'string' && form.fallback_integration_id)
      body.fallback_integration_id = form.fallback_integration_id
    if (conditions.value !== undefined) body.conditions = conditions.value
    const r = await c.var.api('POST', '/routing-rules', body)
    return r.ok ? c.redirect(orgUrl(c, 'routing'), 303) : routing(c, undefined, errorText(r))
  })
  // Edit in place: the rule's own form, saved with PATCH (every field sent, so a cleared one is cleared).
  const ruleEdit = async (c: C, error?: string) => {
    const [r, list] = await Promise.all([
      c.var.api('GET', `/routing-rules/${encodeURIComponent(c.req.param('id') ?? '')}`),
      c.var.api('GET', `/integrations${qs({ orgId: c.var.org.id, per_page: 100 })}`),
    ])
    // The rules API answers in its envelope ({ success, data }).
    const rule: Json = r.ok ? r.body.data : undefined
    if (!rule || rule.org_id !== c.var.org.id)
      return render(c, 'Not found', 'routing', <Notice kind="bad">Not found.</Notice>, 404)
    const integrations: Json[] = list.body?.data ?? []
    const label = (id: string | null) => {
      const i = integrations.find((x) => x.id === id)
      return i ? `${i.display_name}${i.name ? ` · ${i.name}` : ''}` : (id ?? '—')
    }
    const capabilities = [...new Set(integrations.flatMap((i) => i.enabled_capabilities as string[]))].sort()
    return render(
      c,
      `Edit rule: ${rule.capability}`,
      'routing',
      <>
        <a href={orgUrl(c, 'routing')}>← Routing rules</a>
        {error ? <Notice kind="bad">{error}</Notice> : null}
        <RuleForm c={c} integrations={integrations} capabilities={capabilities} label={label} rule={rule} />
      </>,
      error ? 422 : 200,
    )
  }
  app.get('/o/:org/routing/:id/edit', (c) => ruleEdit(c))
  app.post('/o/:org/routing/:id/edit', async (c) => {
    const form = await c.req.parseBody()
    const conditions = parseJson(form.conditions)
    if (!conditions.ok) return ruleEdit(c, 'Conditions are not valid JSON.')
    const r = await c.var.api('PATCH', `/routing-rules/${encodeURIComponent(c.req.param('id'))}`, {
      capability: form.capability,
      integration_id: form.integration_id,
      priority: Number(form.priority ?? 0) || 0,
      is_default: form.is_default === 'on',
      fallback_integration_id:
        typeof form.fallback_integration_id === 'string' && form.fallback_integration_id
          ? form.fallback_integration_id
          : null,
      conditions: conditions.value ?? [],
    })
    if (r.status === 404) return ruleEdit(c)
    return r.ok ? c.redirect(orgUrl(c, 'routing'), 303) : ruleEdit(c, errorText(r))
  })
  app.post('/o/:org/routing/:id/delete', async (c) => {
    const r = await c.var.api('DELETE', `/routing-rules/${encodeURIComponent(c.req.param('id'))}`)
    return r.ok ? c.redirect(orgUrl(c, 'routing'), 303) : routing(c, undefined, errorText(r))
  })
  app.post('/o/:org/routing/evaluate', async (c) => {
    const form = await c.req.parseBody()
    const context = parseJson(form.context)
    if (!context.ok) return routing(c, undefined, 'Context is not valid JSON.', form)
    const r = await c.var.api('POST', '/routing-rules/evaluate', {
      capability: form.capability,
      ...(context.value !== undefined ? { context: context.value } : {}),
      orgId: c.var.org.id,
    })
    return r.ok ? routing(c, r.body.data, undefined, form) : routing(c, undefined, errorText(r), form)
  })
}
