import type { Hono } from 'hono'
import type { AppContext } from '../context.ts'
import { errorText, type Json, qs } from './api.ts'
import { DataTable, FilterForm, Pager, SelectFilter, TextFilter } from './components.tsx'
import { type C, type ConsoleEnv, orgUrl } from './env.ts'
import { Badge, Csrf, Empty, JsonBlock, Live, Notice, render, When } from './layout.tsx'

const INBOUND_STATUSES = ['received', 'processing', 'processed', 'retrying', 'failed', 'rejected']

/** A PSA connection's latest ticket sync: its state (a progress bar while queued or running) and counts. */
function SyncProgress(props: { s: Json | null | undefined }) {
  const s = props.s
  if (!s) return <span class="muted">never</span>
  const busy = s.status === 'queued' || s.status === 'running'
  const n = s.counts ?? {}
  return (
    <div class="sync">
      <Badge status={s.status} /> <span class="hint">{s.trigger}</span>
      {busy ? <progress aria-label={`Ticket sync ${s.status}`} /> : null}
      <div class="hint">
        {s.status === 'queued' ? (
          <>
            queued <When at={s.queuedAt} />
          </>
        ) : (
          <>
            {n.mappingsChecked ?? 0} checked, {n.mappingsUpdated ?? 0} updated, {n.ticketsMissing ?? 0}{' '}
            missing
            {s.finishedAt ? (
              <>
                {' '}
                · finished <When at={s.finishedAt} />
              </>
            ) : null}
          </>
        )}
      </div>
      {s.error ? <div class="vendor-message">{s.error}</div> : null}
    </div>
  )
}

export function otherPages(app: Hono<ConsoleEnv>, _ctx: AppContext) {
  // Webhook Events (inbound): the log with its Failure Analysis panel, replay of one and bulk replay by filter.
  const inbound = async (c: C, message?: { kind: 'ok' | 'bad'; text: string }) => {
    const status = c.req.query('status') || undefined
    const provider = c.req.query('provider') || undefined
    const cursor = c.req.query('cursor') || undefined
    const [r, failed] = await Promise.all([
      c.var.api('GET', `/webhook-events${qs({ orgId: c.var.org.id, status, provider, cursor, limit: 25 })}`),
      c.var.api(
        'GET',
        `/webhook-events${qs({ orgId: c.var.org.id, provider, status: 'failed', limit: 100 })}`,
      ),
    ])
    const items: Json[] = r.body?.data ?? []
    const failures: Json[] = failed.body?.data ?? []
    const groups = new Map<string, { n: number; f: Json }>()
    for (const e of failures) {
      if (!e.failure) continue
      const k = `${e.failure.stage}/${e.failure.errorClass}`
      const g = groups.get(k)
      if (g) g.n++
      else groups.set(k, { n: 1, f: e.failure })
    }
    return render(
      c,
      'Webhook events',
      'inbound',
      <>
        {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
        <div class="actions">
          <a class="button" href={orgUrl(c, 'inbound/sources')}>
            Webhook sources
          </a>
        </div>
        <FilterForm>
          <SelectFilter
            label="Status"
            name="status"
            value={status}
            options={INBOUND_STATUSES}
            show={(x) => x}
          />
          <TextFilter label="Source" name="provider" value={provider} placeholder="provider" />
        </FilterForm>
        <Live url={c.req.url.replace(/\/replay(\/[^/?]+)?(\?.*)?$/, '')}>
          <section class="card" aria-labelledby="fa">
            <h2 id="fa">Failure analysis</h2>
            {groups.size ? (
              <>
                <ul>
                  {[...groups.values()].map(({ n, f }) => (
                    <li>
                      <strong>
                        {n} × {f.stage}: {f.errorClass}
                      </strong>{' '}
                      — <span class="vendor-message">{f.error}</span>
                      <div class="hint">{f.suggestion}</div>
                    </li>
                  ))}
                </ul>
                <form method="post" action={orgUrl(c, 'inbound/replay')}>
                  <Csrf token={c.var.csrf} />
                  {provider ? <input type="hidden" name="provider" value={provider} /> : null}
                  <button type="submit">
                    Replay {failures.length}
                    {failures.length >= 100 ? '+' : ''} failed event{failures.length === 1 ? '' : 's'}
                  </button>
                </form>
              </>
            ) : (
              <p class="muted">No failed events.</p>
            )}
          </section>
          <h2>Log</h2>
          <DataTable
            head={['Source', 'Status', 'Received', 'Payload', '']}
            rows={items}
            row={(e) => (
              <tr>
                <td>{e.provider}</td>
                <td>
                  <Badge status={e.status} />
                  {e.replayOf ? <div class="hint">replay</div> : null}
                  {e.failure ? <div class="hint vendor-message">{e.failure.error}</div> : null}
                </td>
                <td>
                  <When at={e.receivedAt} />
                </td>
                <td>
                  <code>{e.preview ?? '—'}</code>
                </td>
                <td>
                  {e.status === 'failed' || e.status === 'processed' ? (
                    <form method="post" action={orgUrl(c, `inbound/replay/${e.id}`)}>
                      <Csrf token={c.var.csrf} />
                      <button type="submit" aria-label={`Replay event ${e.id}`}>
                        Replay
                      </button>
                    </form>
                  ) : null}
                </td>
              </tr>
            )}
            empty={<Empty>No inbound events{status ? ` with status ${status}` : ''}.</Empty>}
          />
        </Live>
        <Pager
          older={
            r.body?.next
              ? `${orgUrl(c, 'inbound')}${qs({ status, provider, cursor: r.body.next })}`
              : undefined
          }
        />
        {!r.ok ? <Notice kind="bad">{errorText(r)}</Notice> : null}
      </>,
    )
  }
  app.get('/o/:org/inbound', (c) => inbound(c))
  app.post('/o/:org/inbound/replay/:id', async (c) => {
    const r = await c.var.api('POST', `/webhook-events/${encodeURIComponent(c.req.param('id'))}/replay`)
    return inbound(c, {
      kind: r.ok ? 'ok' : 'bad',
      text: r.ok ? `Replay queued as event ${r.body.id}.` : errorText(r),
    })
  })
  app.post('/o/:org/inbound/replay', async (c) => {
    const form = await c.req.parseBody()
    const body: Record<string, string> = { orgId: c.var.org.id, status: 'failed' }
    if (typeof form.provider === 'string' && form.provider) body.provider = form.provider
    const r = await c.var.api('POST', '/webhook-events/replay', body)
    return inbound(c, {
      kind: r.ok ? 'ok' : 'bad',
      text: r.ok ? `${r.body.count} events queued for replay.` : errorText(r),
    })
  })

  app.get('/o/:org/psa', async (c) => {
    const [conns, tickets] = await Promise.all([
      c.var.api('GET', `/psa/connections${qs({ orgId: c.var.org.id, limit: 100 })}`),
      c.var.api('GET', `/psa/tickets${qs({ orgId: c.var.org.id, limit: 50 })}`),
    ])
    const list: Json[] = conns.body?.data ?? []
    const ts: Json[] = tickets.body?.data ?? []
    return render(
      c,
      'PSA',
      'psa',
      <Live url={c.req.url}>
        {!conns.ok ? <Notice kind="bad">{errorText(conns)}</Notice> : null}
        {c.req.query('notice') === 'sync' ? (
          <Notice kind="ok">Sync queued; its progress shows below as it runs.</Notice>
        ) : null}
        {c.req.query('notice') === 'settings' ? (
          <Notice kind="ok">Ticket automation settings saved.</Notice>
        ) : null}
        <h2>Connections</h2>
        <DataTable
          head={['Connection', 'Status', 'Last test', 'Ticket sync', '']}
          rows={list}
          row={(p) => (
            <tr>
              <td>
                {/* A PSA connection is an integration: created, edited, rotated and deleted on its page. */}
                <a href={orgUrl(c, `integrations/${p.id}`)}>
                  {p.provider}
                  {p.name ? ` · ${p.name}` : ''}
                </a>
                {p.isDefault ? <span class="muted"> (default)</span> : null}
              </td>
              <td>
                <Badge status={p.status} /> {p.enabled ? null : <Badge status="paused" />}
              </td>
              <td>
                <When at={p.syncSettings?.lastTestedAt} /> {p.syncSettings?.status ?? ''}
              </td>
              <td>
                <SyncProgress s={p.lastSync} />
              </td>
              <td>
                <div class="actions">
                  <form method="post" action={orgUrl(c, `psa/${p.id}/sync`)}>
                    <Csrf token={c.var.csrf} />
                    <button type="submit">Sync ticket statuses now</button>
                  </form>
                  <a
                    class="button"
                    href={orgUrl(c, `psa/${p.id}/settings`)}
                    aria-label={`Ticket automation settings of ${p.provider}${p.name ? ` · ${p.name}` : ''}`}
                  >
                    Ticket automation…
                  </a>
                </div>
              </td>
            </tr>
          )}
          empty={
            <Empty>
              No PSA connections yet: add a PSA integration with{' '}
              <a href={orgUrl(c, 'integrations/new')}>+ Add integration</a>.
            </Empty>
          }
        />
        <h2>Ticket mappings</h2>
        <DataTable
          head={['Ticket', 'Title', 'Status', 'Synced']}
          rows={ts}
          row={(t) => (
            <tr>
              <td>
                {t.raw?.externalTicketUrl ? (
                  <a href={t.raw.externalTicketUrl} rel="noopener noreferrer" target="_blank">
                    #{t.raw.externalTicketNumber ?? t.raw.externalTicketId}
                  </a>
                ) : (
                  `#${t.raw?.externalTicketNumber ?? t.raw?.externalTicketId ?? ''}`
                )}
              </td>
              <td>{t.title}</td>
              <td>{t.status ?? '—'}</td>
              <td>
                <When at={t.syncedAt} />
              </td>
            </tr>
          )}
          empty={<Empty>No tickets mapped yet.</Empty>}
        />
      </Live>,
    )
  })
  app.post('/o/:org/psa/:id/sync', async (c) => {
    const r = await c.var.api('POST', `/psa/connections/${encodeURIComponent(c.req.param('id'))}/sync`)
    // Back to the PSA page, whose live region shows the sync go from queued to running to its counts.
    if (r.ok) return c.redirect(`${orgUrl(c, 'psa')}?notice=sync`, 303)
    return render(
      c,
      'PSA sync',
      'psa',
      <>
        <Notice kind={r.ok ? 'ok' : 'bad'}>
          {r.ok ? (r.body?.message ?? 'Sync started.') : errorText(r)}
        </Notice>
        {r.ok ? <JsonBlock value={r.body} /> : null}
        <a href={orgUrl(c, 'psa')}>Back to PSA</a>
      </>,
      r.ok ? 200 : 422,
    )
  })

  app.get('/o/:org/audit', async (c) => {
    const f = {
      action: c.req.query('action') || undefined,
      targetType: c.req.query('targetType') || undefined,
      from: c.req.query('from') || undefined,
      to: c.req.query('to') || undefined,
    }
    const page = Math.max(1, Number(c.req.query('page') ?? '1') || 1)
    const r = await c.var.api('GET', `/audit-logs${qs({ ...f, orgId: c.var.org.id, page, limit: 50 })}`)
    const items: Json[] = r.body?.data ?? []
    const total: number = r.body?.pagination?.total ?? 0
    return render(
      c,
      'Audit log',
      'audit',
      <>
        <FilterForm>
          <TextFilter label="Action" name="action" value={f.action} placeholder="integration.*" />
          <TextFilter label="Target type" name="targetType" value={f.targetType} />
          <TextFilter label="From" name="from" value={f.from} placeholder="2026-01-01T00:00:00Z" />
          <TextFilter label="To" name="to" value={f.to} />
        </FilterForm>
        {!r.ok ? <Notice kind="bad">{errorText(r)}</Notice> : null}
        <DataTable
          head={['When', 'Action', 'Target', 'Actor', 'Summary']}
          rows={items}
          row={(e) => (
            <tr>
              <td>
                <When at={e.createdAt} />
              </td>
              <td>{e.action}</td>
              <td>
                {e.targetType} <span class="hint">{e.targetId}</span>
              </td>
              <td>{e.actorType}</td>
              <td>
                <code>{JSON.stringify(e.summary)}</code>
              </td>
            </tr>
          )}
          empty={<Empty>No audit entries match.</Empty>}
        />
        <Pager
          newer={page > 1 ? `${orgUrl(c, 'audit')}${qs({ ...f, page: page - 1 })}` : undefined}
          older={page * 50 < total ? `${orgUrl(c, 'audit')}${qs({ ...f, page: page + 1 })}` : undefined}
        />
      </>,
    )
  })
}
