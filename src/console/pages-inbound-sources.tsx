import type { Hono } from 'hono'
import type { AppContext } from '../context.ts'
import { errorText, type Json, qs } from './api.ts'
import { DataTable, SaveCancel } from './components.tsx'
import { type C, type ConsoleEnv, orgUrl } from './env.ts'
import { Badge, Csrf, Empty, Notice, render, When } from './layout.tsx'

type Message = { kind: 'ok' | 'bad'; text: string }

/** The address, the secret (shown this once) and the vendor steps of a source just created or rotated. */
function Secret(props: { s: Json }) {
  const s = props.s
  return (
    <section class="card" aria-labelledby="secret-h">
      <h2 id="secret-h">Paste these at the vendor</h2>
      <dl class="kv">
        <dt>URL</dt>
        <dd>
          <code>{s.url}</code>
        </dd>
        <dt>Secret</dt>
        <dd>
          <code>{s.secret}</code> <span class="hint">shown this once; rotate it to get a new one</span>
        </dd>
      </dl>
      {s.setup?.length ? (
        <ol>
          {(s.setup as string[]).map((step) => (
            <li>{step}</li>
          ))}
        </ol>
      ) : null}
    </section>
  )
}

/**
 * Inbound webhook sources (where vendors send their webhooks): list, create with the address and secret to paste
 * at the vendor, edit (name, linked integration, event types), rotate the secret, delete (with its event log,
 * confirmed). All through /webhook-sources.
 */
export function inboundSourcePages(app: Hono<ConsoleEnv>, ctx: AppContext) {
  const list = async (c: C, message?: Message, created?: Json, status = 200) => {
    const r = await c.var.api('GET', `/webhook-sources${qs({ orgId: c.var.org.id, limit: 100 })}`)
    const items: Json[] = r.body?.data ?? []
    // Suggestions only: the API names the providers that can send webhooks when it refuses another.
    const providers = ctx.connectors.inboundProviders()
    return render(
      c,
      'Webhook sources',
      'inbound',
      <>
        <a href={orgUrl(c, 'inbound')}>← Webhook events</a>
        {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
        {created ? <Secret s={created} /> : null}
        {!r.ok ? <Notice kind="bad">{errorText(r)}</Notice> : null}
        <DataTable
          head={['Source', 'URL', 'Registration', 'Rejected', '']}
          rows={items}
          row={(s) => (
            <tr>
              <td>
                {s.name} <span class="hint">{s.provider}</span>
              </td>
              <td>
                <code>{s.url}</code>
              </td>
              <td>
                <Badge status={s.registration?.status} />
                {s.registration?.error ? <div class="vendor-message">{s.registration.error}</div> : null}
              </td>
              <td>
                {s.rejectedCount}
                {s.lastRejectedAt ? (
                  <div class="hint">
                    last <When at={s.lastRejectedAt} />
                  </div>
                ) : null}
              </td>
              <td>
                <div class="actions">
                  <form method="post" action={orgUrl(c, `inbound/sources/${s.id}/rotate`)}>
                    <Csrf token={c.var.csrf} />
                    <button type="submit" aria-label={`Rotate the secret of ${s.name}`}>
                      Rotate secret
                    </button>
                  </form>
                  <a
                    class="button"
                    href={orgUrl(c, `inbound/sources/${s.id}/edit`)}
                    aria-label={`Edit ${s.name}`}
                  >
                    Edit…
                  </a>
                  <a
                    class="button danger"
                    href={orgUrl(c, `inbound/sources/${s.id}/delete`)}
                    aria-label={`Delete ${s.name}`}
                  >
                    Delete…
                  </a>
                </div>
              </td>
            </tr>
          )}
          empty={
            <Empty>No webhook sources yet: add one below, then paste its URL and secret at the vendor.</Empty>
          }
        />
        <h2>Add a source</h2>
        <form method="post" action={orgUrl(c, 'inbound/sources')}>
          <Csrf token={c.var.csrf} />
          <label for="src-name">
            Name <span class="req">*</span>
          </label>
          <input type="text" id="src-name" name="name" required maxlength={255} />
          <label for="src-provider">
            Provider <span class="req">*</span> <span class="hint">{providers.join(', ')}</span>
          </label>
          <input type="text" id="src-provider" name="provider" required list="src-providers" />
          <datalist id="src-providers">
            {providers.map((p) => (
              <option value={p} />
            ))}
          </datalist>
          <div class="actions">
            <button type="submit" class="primary">
              Add source
            </button>
          </div>
        </form>
      </>,
      status,
    )
  }

  const load = async (c: C) => {
    const r = await c.var.api('GET', `/webhook-sources/${encodeURIComponent(c.req.param('id') ?? '')}`)
    return r.ok && r.body.orgId === c.var.org.id ? r.body : undefined
  }
  const notFound = (c: C) => render(c, 'Not found', 'inbound', <Notice kind="bad">Not found.</Notice>, 404)

  const notices: Record<string, string> = { deleted: 'Source deleted.', saved: 'Source saved.' }
  app.get('/o/:org/inbound/sources', (c) => {
    const notice = notices[c.req.query('notice') ?? '']
    return list(c, notice ? { kind: 'ok', text: notice } : undefined)
  })
  app.post('/o/:org/inbound/sources', async (c) => {
    const form = await c.req.parseBody()
    const r = await c.var.api('POST', '/webhook-sources', {
      orgId: c.var.org.id,
      name: String(form.name ?? ''),
      provider: String(form.provider ?? ''),
    })
    if (!r.ok) return list(c, { kind: 'bad', text: errorText(r) }, undefined, 422)
    return list(c, { kind: 'ok', text: `Source "${r.body.name}" added.` }, r.body, 201)
  })
  app.post('/o/:org/inbound/sources/:id/rotate', async (c) => {
    const s = await load(c)
    if (!s) return notFound(c)
    const r = await c.var.api('POST', `/webhook-sources/${s.id}/rotate-secret`)
    if (!r.ok) return list(c, { kind: 'bad', text: errorText(r) }, undefined, 422)
    return list(
      c,
      { kind: 'ok', text: `New secret for "${s.name}"; the old one still verifies for a while.` },
      r.body,
    )
  })
  /** The settings a source keeps after creation, as PATCH /webhook-sources/{id} takes them. */
  const editPage = async (c: C, s: Json, message?: Message, form?: Record<string, string>, status = 200) => {
    const r = await c.var.api('GET', `/integrations${qs({ orgId: c.var.org.id, per_page: 100 })}`)
    const integrations: Json[] = r.body?.data ?? []
    const linked = form ? form.integrationId : (s.integrationId ?? '')
    const types = form ? form.eventTypes : ((s.eventTypes as string[] | null) ?? []).join(', ')
    return render(
      c,
      `Edit ${s.name}`,
      'inbound',
      <>
        <a href={orgUrl(c, 'inbound/sources')}>← Webhook sources</a>
        {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
        <form method="post" action={orgUrl(c, `inbound/sources/${s.id}/edit`)}>
          <Csrf token={c.var.csrf} />
          <p>
            <strong>{s.provider}</strong> source; its URL and secret stay as they are.
          </p>
          <label for="src-edit-name">
            Name <span class="req">*</span>
          </label>
          <input
            type="text"
            id="src-edit-name"
            name="name"
            required
            maxlength={255}
            value={form?.name ?? s.name}
          />
          <label for="src-edit-integration">
            Integration <span class="hint">whose tickets and devices its events are matched to</span>
          </label>
          <select id="src-edit-integration" name="integrationId">
            <option value="" selected={!linked}>
              None
            </option>
            {integrations.map((i) => (
              <option value={i.id} selected={i.id === linked}>
                {i.provider}
                {i.name ? ` · ${i.name}` : ''}
              </option>
            ))}
          </select>
          <label for="src-edit-types">
            Event types{' '}
            <span class="hint">
              comma-separated, wildcards like alert.* allowed; empty accepts every type
            </span>
          </label>
          <input type="text" id="src-edit-types" name="eventTypes" value={types} />
          <SaveCancel label="Save source" cancelHref={orgUrl(c, 'inbound/sources')} />
        </form>
      </>,
      status,
    )
  }
  app.get('/o/:org/inbound/sources/:id/edit', async (c) => {
    const s = await load(c)
    if (!s) return notFound(c)
    return editPage(c, s)
  })
  app.post('/o/:org/inbound/sources/:id/edit', async (c) => {
    const s = await load(c)
    if (!s) return notFound(c)
    const body = await c.req.parseBody()
    const form = {
      name: String(body.name ?? ''),
      integrationId: String(body.integrationId ?? ''),
      eventTypes: String(body.eventTypes ?? ''),
    }
    const types = form.eventTypes
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x.length > 0)
    const r = await c.var.api('PATCH', `/webhook-sources/${s.id}`, {
      name: form.name,
      integrationId: form.integrationId || null,
      eventTypes: types.length > 0 ? types : null,
    })
    if (!r.ok) return editPage(c, s, { kind: 'bad', text: errorText(r) }, form, 422)
    return c.redirect(`${orgUrl(c, 'inbound/sources')}?notice=saved`, 303)
  })
  app.get('/o/:org/inbound/sources/:id/delete', async (c) => {
    const s = await load(c)
    if (!s) return notFound(c)
    return render(
      c,
      `Delete ${s.name}`,
      'inbound',
      <form method="post" action={orgUrl(c, `inbound/sources/${s.id}/delete`)}>
        <Csrf token={c.var.csrf} />
        <p>
          Deleting <strong>{s.name}</strong> ({s.provider}) also deletes its event log; the vendor's webhook
          registration is removed first, when Patchbay made one.
        </p>
        <div class="actions">
          <button type="submit" class="danger">
            Delete source and its events
          </button>
          <a class="button" href={orgUrl(c, 'inbound/sources')}>
            Cancel
          </a>
        </div>
      </form>,
    )
  })
  app.post('/o/:org/inbound/sources/:id/delete', async (c) => {
    const s = await load(c)
    if (!s) return notFound(c)
    const r = await c.var.api('DELETE', `/webhook-sources/${s.id}`)
    if (!r.ok) return list(c, { kind: 'bad', text: errorText(r) }, undefined, 422)
    return c.redirect(`${orgUrl(c, 'inbound/sources')}?notice=deleted`, 303)
  })
}
