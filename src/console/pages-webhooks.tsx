import type { Hono } from 'hono'
import type { AppContext } from '../context.ts'
import { DEFAULT_RETRY_POLICY } from '../delivery/policy.ts'
import { errorText, type Json, qs } from './api.ts'
import { DataTable, FilterForm, Pager, SelectFilter, TextFilter } from './components.tsx'
import { type C, type ConsoleEnv, orgUrl } from './env.ts'
import { Badge, Csrf, Empty, JsonBlock, Live, Notice, render, When } from './layout.tsx'

const HOUR = 3_600_000

/** Delivered and failed deliveries per hour of the last 24, as bars: green up, red down from the middle. */
function Chart(props: { deliveries: Json[]; now: Date }) {
  const start = props.now.getTime() - 24 * HOUR
  const ok = new Array<number>(24).fill(0)
  const bad = new Array<number>(24).fill(0)
  for (const d of props.deliveries) {
    // Hour 23 is the current one; a delivery made this very instant belongs to it too.
    const i = Math.min(23, Math.floor((Date.parse(d.createdAt) - start) / HOUR))
    if (i < 0) continue
    if (d.status === 'delivered') ok[i] = (ok[i] ?? 0) + 1
    else if (d.status === 'failed') bad[i] = (bad[i] ?? 0) + 1
  }
  const max = Math.max(1, ...ok, ...bad)
  const total = ok.reduce((a, b) => a + b, 0)
  const failed = bad.reduce((a, b) => a + b, 0)
  return (
    <svg
      class="chart"
      viewBox="0 0 240 84"
      width="480"
      height="168"
      role="img"
      aria-label={`Last 24 hours: ${total} delivered, ${failed} failed`}
    >
      {ok.map((n, i) => (
        <rect class="ok" x={i * 10 + 1} y={40 - (n / max) * 38} width="8" height={(n / max) * 38} />
      ))}
      {bad.map((n, i) => (
        <rect class="bad" x={i * 10 + 1} y={42} width="8" height={(n / max) * 38} />
      ))}
      <line x1="0" x2="240" y1="41" y2="41" stroke="currentColor" stroke-opacity="0.3" />
      <text x="0" y="83">
        −24 h
      </text>
      <text x="215" y="83">
        now
      </text>
    </svg>
  )
}

/** Retry for a failed webhook delivery (other kinds are recovered in bulk from the deliveries log). */
function RetryDelivery(props: { c: C; d: Json }) {
  const { c, d } = props
  if (d.status !== 'failed' || !d.webhookId) return null
  return (
    <form method="post" action={orgUrl(c, `webhooks/${d.webhookId}/retry/${d.id}`)}>
      <Csrf token={c.var.csrf} />
      <button type="submit">Retry</button>
    </form>
  )
}

function DeliveryRow(props: { c: C; d: Json }) {
  const { c, d } = props
  return (
    <tr>
      <td>
        <details>
          <summary>
            <Badge status={d.status} /> {d.event}
          </summary>
          <h3>Attempts</h3>
          <ol class="timeline">
            <li>
              <When at={d.createdAt} /> queued{d.retryOf ? ` as a retry of ${d.retryOf}` : ''}
            </li>
            {d.attempt > 0 ? (
              <li>
                {d.attempt} attempt{d.attempt === 1 ? '' : 's'} made; last answer:{' '}
                {d.responseStatus === null ? 'none' : `HTTP ${d.responseStatus}`}
                {d.responseTimeMs === null ? '' : ` in ${d.responseTimeMs} ms`}
                {d.errorMessage ? ` — ${d.errorMessage}` : ''}
              </li>
            ) : null}
            {d.nextAttemptAt ? (
              <li>
                next attempt <When at={d.nextAttemptAt} />
              </li>
            ) : null}
            {d.deliveredAt ? (
              <li>
                delivered <When at={d.deliveredAt} />
              </li>
            ) : null}
            {d.status === 'failed' ? <li>gave up (dead-lettered)</li> : null}
          </ol>
          <p>
            <a href={orgUrl(c, `deliveries/${d.id}`)}>Each attempt, with its request and response →</a>
          </p>
          <h3>Payload</h3>
          <JsonBlock value={d.payload} />
          {d.responseBody ? (
            <>
              <h3>Response body</h3>
              <JsonBlock value={d.responseBody} />
            </>
          ) : null}
          <RetryDelivery c={c} d={d} />
        </details>
      </td>
      <td>{d.targetType}</td>
      <td>{d.attempt}</td>
      <td>{d.responseStatus ?? '—'}</td>
      <td>
        <When at={d.createdAt} />
      </td>
    </tr>
  )
}

function DeliveryTable(props: { c: C; items: Json[] }) {
  return (
    <DataTable
      head={['Delivery', 'Target', 'Attempts', 'Response', 'Created']}
      rows={props.items}
      row={(d) => <DeliveryRow c={props.c} d={d} />}
      empty={<Empty>No deliveries match.</Empty>}
    />
  )
}

const FILTERS = ['status', 'targetType', 'webhookId', 'eventType', 'from', 'to'] as const

export function webhookPages(app: Hono<ConsoleEnv>, ctx: AppContext) {
  app.get('/o/:org/webhooks', async (c) => {
    const r = await c.var.api('GET', `/webhooks${qs({ orgId: c.var.org.id, limit: 100 })}`)
    const items: Json[] = r.body?.data ?? []
    return render(
      c,
      'Webhooks',
      'webhooks',
      <>
        <div class="actions">
          <a class="button primary" href={orgUrl(c, 'webhooks/new')}>
            + New webhook
          </a>
        </div>
        {!r.ok ? <Notice kind="bad">{errorText(r)}</Notice> : null}
        <DataTable
          head={['Name', 'URL', 'Events', 'Status', 'Last delivery']}
          rows={items}
          row={(w) => (
            <tr>
              <td>
                <a href={orgUrl(c, `webhooks/${w.id}`)}>{w.name}</a>
              </td>
              <td>{w.url}</td>
              <td>{w.events.join(', ')}</td>
              <td>
                <Badge status={w.status} />
              </td>
              <td>
                <When at={w.lastDeliveryAt} />
              </td>
            </tr>
          )}
          empty={<Empty>No webhooks yet.</Empty>}
        />
      </>,
    )
  })

  const webhookForm = async (c: C, w: Json | undefined, error?: string, status = 200) => {
    const types = await c.var.api('GET', '/event-types')
    const catalog: Json[] = types.body?.data ?? []
    const chosen = new Set<string>(w?.events ?? [])
    const headers: Json[] = w?.headers ?? []
    const rows = [...headers, { key: '', value: '' }, { key: '', value: '' }].slice(
      0,
      Math.max(2, headers.length + 1),
    )
    return render(
      c,
      w?.id ? `Edit ${w.name}` : 'New webhook',
      'webhooks',
      <>
        {error ? <Notice kind="bad">{error}</Notice> : null}
        <form method="post" action={orgUrl(c, w?.id ? `webhooks/${w.id}/edit` : 'webhooks/new')}>
          <Csrf token={c.var.csrf} />
          <label for="wh-name">
            Name <span class="req">*</span>
          </label>
          <input type="text" id="wh-name" name="name" required value={w?.name ?? ''} />
          <label for="wh-url">
            URL <span class="req">*</span> <span class="hint">HTTPS, on a public address.</span>
          </label>
          <input type="url" id="wh-url" name="url" required value={w?.url ?? ''} />
          <label for="wh-scheme">Signature scheme</label>
          <select id="wh-scheme" name="signatureScheme">
            {['breeze', 'standard-webhooks'].map((s) => (
              <option value={s} selected={(w?.signatureScheme ?? 'breeze') === s}>
                {s}
              </option>
            ))}
          </select>
          <label for="wh-secret">
            Signing secret{' '}
            <span class="hint">Leave blank to keep the current one (or have one generated).</span>
          </label>
          <input type="password" id="wh-secret" name="secret" autocomplete="new-password" />
          <label for="wh-retries">
            Retries after the first attempt{' '}
            <span class="hint">Blank keeps the current (or default) policy.</span>
          </label>
          <input
            type="number"
            id="wh-retries"
            name="maxRetries"
            min="0"
            max="50"
            value={w?.retryPolicy?.maxRetries ?? ''}
          />
          <fieldset>
            <legend>Events</legend>
            <label class="check">
              <input type="checkbox" name="events" value="*" checked={chosen.has('*')} />* (every event)
            </label>
            {catalog.map((t) => (
              <label class="check">
                <input type="checkbox" name="events" value={t.type} checked={chosen.has(t.type)} />
                {t.type} <span class="hint">{t.description}</span>
              </label>
            ))}
          </fieldset>
          <fieldset>
            <legend>Custom headers (values are stored encrypted and shown masked)</legend>
            {rows.map((h, i) => (
              <div class="filters">
                <label>
                  Header name
                  <input type="text" name={`hkey${i}`} value={h.key} />
                </label>
                <label>
                  Value
                  <input type="password" name={`hval${i}`} value={h.value} autocomplete="off" />
                </label>
              </div>
            ))}
          </fieldset>
          <div class="actions">
            <button type="submit" class="primary">
              Save webhook
            </button>
          </div>
        </form>
      </>,
      status,
    )
  }

  const webhookBody = (form: Record<string, unknown>, existing?: Json) => {
    const events = ([] as unknown[]).concat(form.events ?? []).map(String)
    const headers: { key: string; value: string }[] = []
    for (let i = 0; i < 20; i++) {
      const key = form[`hkey${i}`]
      const value = form[`hval${i}`]
      if (typeof key === 'string' && key.trim() && typeof value === 'string')
        headers.push({ key: key.trim(), value })
    }
    const body: Record<string, unknown> = {
      name: String(form.name ?? ''),
      url: String(form.url ?? ''),
      events,
      headers,
      signatureScheme: String(form.signatureScheme ?? 'breeze'),
    }
    if (typeof form.secret === 'string' && form.secret) body.secret = form.secret
    if (
      typeof form.maxRetries === 'string' &&
      form.maxRetries &&
      Number(form.maxRetries) !== existing?.retryPolicy?.maxRetries
    )
      body.retryPolicy = {
        ...(existing?.retryPolicy ?? DEFAULT_RETRY_POLICY),
        maxRetries: Number(form.maxRetries),
      }
    return body
  }

  app.get('/o/:org/webhooks/new', (c) => webhookForm(c, undefined))
  app.post('/o/:org/webhooks/new', async (c) => {
    const form = await c.req.parseBody({ all: true })
    const body = webhookBody(form)
    const r = await c.var.api('POST', '/webhooks', { ...body, orgId: c.var.org.id })
    if (!r.ok) return webhookForm(c, body, errorText(r), 422)
    return c.redirect(orgUrl(c, `webhooks/${r.body.id}${r.body.secret ? '?created=1' : ''}`), 303)
  })

  const getWebhook = async (c: C) => {
    const r = await c.var.api('GET', `/webhooks/${encodeURIComponent(c.req.param('id') ?? '')}`)
    return r.ok && r.body.orgId === c.var.org.id ? r.body : undefined
  }
  const notFound = (c: C) => render(c, 'Not found', 'webhooks', <Notice kind="bad">Not found.</Notice>, 404)

  app.get('/o/:org/webhooks/:id/edit', async (c) => {
    const w = await getWebhook(c)
    return w ? webhookForm(c, w) : notFound(c)
  })
  app.post('/o/:org/webhooks/:id/edit', async (c) => {
    const w = await getWebhook(c)
    if (!w) return notFound(c)
    const form = await c.req.parseBody({ all: true })
    const body = webhookBody(form, w)
    const r = await c.var.api('PATCH', `/webhooks/${w.id}`, body)
    if (!r.ok) return webhookForm(c, { ...w, ...body }, errorText(r), 422)
    return c.redirect(orgUrl(c, `webhooks/${w.id}`), 303)
  })

  const webhookDetail = async (c: C, message?: { kind: 'ok' | 'bad'; text: string }) => {
    const w = await getWebhook(c)
    if (!w) return notFound(c)
    const recent = await c.var.api('GET', `/webhooks/${w.id}/deliveries${qs({ limit: 100 })}`)
    const items: Json[] = recent.body?.data ?? []
    const s = w.deliveryStats ?? {}
    const post = (action: string, label: string, cls?: string) => (
      <form method="post" action={orgUrl(c, `webhooks/${w.id}/${action}`)} class="inline">
        <Csrf token={c.var.csrf} />
        <button type="submit" class={cls}>
          {label}
        </button>
      </form>
    )
    return render(
      c,
      w.name,
      'webhooks',
      <>
        {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
        <div class="actions">
          {post('test', 'Send test event', 'primary')}
          <a class="button" href={orgUrl(c, `webhooks/${w.id}/edit`)}>
            Edit
          </a>
          {w.status === 'active' ? post('pause', 'Pause') : post('resume', 'Resume')}
          <a class="button" href={orgUrl(c, `deliveries${qs({ webhookId: w.id })}`)}>
            All deliveries
          </a>
        </div>
        <dl class="kv">
          <dt>URL</dt>
          <dd>{w.url}</dd>
          <dt>Status</dt>
          <dd>
            <Badge status={w.status} />
          </dd>
          <dt>Events</dt>
          <dd>{w.events.join(', ')}</dd>
          <dt>Signature</dt>
          <dd>
            {w.signatureScheme}, {w.hasSecret ? 'secret set' : 'no secret'}
          </dd>
          <dt>Headers</dt>
          <dd>{w.headers.length ? w.headers.map((h: Json) => `${h.key}: ${h.value}`).join(', ') : '—'}</dd>
          <dt>Retry policy</dt>
          <dd>
            <code>{JSON.stringify(w.retryPolicy)}</code>
          </dd>
        </dl>
        <Live url={orgUrl(c, `webhooks/${w.id}`)}>
          <h2>Deliveries</h2>
          <div class="cards">
            {(
              [
                ['Total', s.total],
                ['Delivered', s.delivered],
                ['Failed', s.failed],
                ['Retrying', s.retrying],
                ['Pending', (s.pending ?? 0) + (s.inProgress ?? 0)],
              ] as [string, number][]
            ).map(([label, n]) => (
              <div class="card">
                <div class="n">{n ?? 0}</div>
                <div>{label}</div>
              </div>
            ))}
          </div>
          <Chart deliveries={items} now={ctx.clock.now()} />
          <DeliveryTable c={c} items={items.slice(0, 20)} />
        </Live>
      </>,
      message?.kind === 'bad' ? 422 : 200,
    )
  }

  // After a successful action the browser is sent back to the detail page (so a reload repeats nothing); the
  // notice is one of these fixed sentences, never text taken from the URL.
  const NOTICES: Record<string, string> = {
    test: 'Test delivery queued.',
    paused: 'Webhook paused.',
    active: 'Webhook resumed.',
    retried: 'Retry queued.',
  }
  const done = (c: C, id: string, notice: string) =>
    c.redirect(orgUrl(c, `webhooks/${id}?notice=${notice}`), 303)
  app.get('/o/:org/webhooks/:id', (c) => {
    const notice = NOTICES[c.req.query('notice') ?? '']
    return webhookDetail(c, notice ? { kind: 'ok', text: notice } : undefined)
  })
  app.post('/o/:org/webhooks/:id/test', async (c) => {
    const w = await getWebhook(c)
    if (!w) return notFound(c)
    const r = await c.var.api('POST', `/webhooks/${w.id}/test`, {})
    return r.ok ? done(c, w.id, 'test') : webhookDetail(c, { kind: 'bad', text: errorText(r) })
  })
  for (const [action, status] of [
    ['pause', 'paused'],
    ['resume', 'active'],
  ] as const) {
    app.post(`/o/:org/webhooks/:id/${action}`, async (c) => {
      const w = await getWebhook(c)
      if (!w) return notFound(c)
      const r = await c.var.api('PATCH', `/webhooks/${w.id}`, { status })
      return r.ok ? done(c, w.id, status) : webhookDetail(c, { kind: 'bad', text: errorText(r) })
    })
  }
  app.post('/o/:org/webhooks/:id/retry/:deliveryId', async (c) => {
    const w = await getWebhook(c)
    if (!w) return notFound(c)
    const r = await c.var.api(
      'POST',
      `/webhooks/${w.id}/retry/${encodeURIComponent(c.req.param('deliveryId'))}`,
    )
    return webhookDetail(c, { kind: r.ok ? 'ok' : 'bad', text: r.ok ? r.body.message : errorText(r) })
  })

  const filtersOf = (c: C) => {
    const f: Record<string, string | undefined> = {}
    for (const k of FILTERS) f[k] = c.req.query(k) || undefined
    return f
  }

  app.get('/o/:org/deliveries', async (c) => {
    const f = filtersOf(c)
    // Keyset paging (the API's `cursor`/`nextCursor`): as quick deep in a long history as on the first page. The
    // cursor and page size ride in the URL beside the filters, so a page is a link; a bad cursor is the API's 422.
    const cursor = c.req.query('cursor') || undefined
    const limit = Math.min(100, Math.max(1, Number(c.req.query('limit') ?? '25') || 25))
    const query = { ...f, orgId: c.var.org.id }
    const [r, failed] = await Promise.all([
      c.var.api('GET', `/deliveries${qs({ ...query, cursor, limit })}`),
      c.var.api('GET', `/deliveries${qs({ ...query, status: 'failed', limit: 1 })}`),
    ])
    const items: Json[] = r.body?.data ?? []
    const total: number = r.body?.pagination?.total ?? 0
    const failedCount: number = failed.body?.pagination?.total ?? 0
    const nextCursor: string | null = r.body?.nextCursor ?? null
    const pageLimit = limit === 25 ? undefined : limit
    const link = (next?: string) =>
      `${orgUrl(c, 'deliveries')}${qs({ ...f, limit: pageLimit, cursor: next })}`
    return render(
      c,
      'Deliveries',
      'deliveries',
      <>
        <FilterForm>
          <SelectFilter
            label="Status"
            name="status"
            value={f.status}
            options={['pending', 'in_progress', 'retrying', 'delivered', 'failed']}
            show={(x) => x}
          />
          <TextFilter label="Target type" name="targetType" value={f.targetType} placeholder="webhook" />
          <TextFilter label="Event type" name="eventType" value={f.eventType} />
          <TextFilter label="From" name="from" value={f.from} placeholder="2026-01-01T00:00:00Z" />
          <TextFilter label="To" name="to" value={f.to} />
          {f.webhookId ? <input type="hidden" name="webhookId" value={f.webhookId} /> : null}
        </FilterForm>
        {!r.ok ? <Notice kind="bad">{errorText(r)}</Notice> : null}
        {failedCount ? (
          <div class="actions">
            <a class="button danger" href={`${orgUrl(c, 'deliveries/recover')}${qs(f)}`}>
              Recover {failedCount} failed deliver{failedCount === 1 ? 'y' : 'ies'}…
            </a>
          </div>
        ) : null}
        <Live url={c.req.url}>
          <p class="muted">{cursor ? 'Older deliveries' : `${total} deliver${total === 1 ? 'y' : 'ies'}`}</p>
          <DeliveryTable c={c} items={items} />
        </Live>
        <Pager
          newer={cursor ? link() : undefined}
          newerText="← Newest"
          older={nextCursor ? link(nextCursor) : undefined}
          olderText="Older →"
        />
      </>,
    )
  })

  // Bulk recovery by the current filter: the count is shown, and the operator confirms it, before anything queues.
  app.get('/o/:org/deliveries/recover', async (c) => {
    const f = filtersOf(c)
    const failed = await c.var.api(
      'GET',
      `/deliveries${qs({ ...f, orgId: c.var.org.id, status: 'failed', limit: 1 })}`,
    )
    const n: number = failed.body?.pagination?.total ?? 0
    return render(
      c,
      'Recover failed deliveries',
      'deliveries',
      <form method="post" action={orgUrl(c, 'deliveries/recover')}>
        <Csrf token={c.var.csrf} />
        {(['targetType', 'webhookId', 'eventType', 'from', 'to'] as const).map((k) =>
          f[k] ? <input type="hidden" name={k} value={f[k]} /> : null,
        )}
        <p>
          Queue a new attempt for <strong class="count">{n}</strong> failed deliver{n === 1 ? 'y' : 'ies'}{' '}
          matching the current filter?
        </p>
        <div class="actions">
          <button type="submit" class="primary">
            Retry {n} deliver{n === 1 ? 'y' : 'ies'}
          </button>
          <a class="button" href={`${orgUrl(c, 'deliveries')}${qs(f)}`}>
            Cancel
          </a>
        </div>
      </form>,
    )
  })
  app.post('/o/:org/deliveries/recover', async (c) => {
    const form = await c.req.parseBody()
    const body: Record<string, string> = { orgId: c.var.org.id }
    for (const k of ['targetType', 'webhookId', 'eventType'] as const)
      if (typeof form[k] === 'string' && form[k]) body[k] = form[k]
    if (typeof form.from === 'string' && form.from) body.since = form.from
    if (typeof form.to === 'string' && form.to) body.until = form.to
    const r = await c.var.api('POST', '/deliveries/retry', body)
    return render(
      c,
      'Recover failed deliveries',
      'deliveries',
      <>
        <Notice kind={r.ok ? 'ok' : 'bad'}>{r.ok ? r.body.message : errorText(r)}</Notice>
        <a href={orgUrl(c, 'deliveries')}>Back to deliveries</a>
      </>,
      r.ok ? 200 : 422,
    )
  })

  // One delivery: its payload and each attempt on a timeline (GET /deliveries/{id}): request headers as sent
  // (secrets masked by the API), response status and body, error and duration. Registered after
  // /deliveries/recover, which the same pattern would otherwise take.
  app.get('/o/:org/deliveries/:id', async (c) => {
    const r = await c.var.api('GET', `/deliveries/${encodeURIComponent(c.req.param('id'))}`)
    // Another organization's delivery, even one the key reaches, is not found under this one's URL.
    if (r.status === 404 || r.status === 422 || (r.ok && r.body.orgId !== c.var.org.id))
      return render(c, 'Not found', 'deliveries', <Notice kind="bad">Not found.</Notice>, 404)
    if (!r.ok) return render(c, 'Delivery', 'deliveries', <Notice kind="bad">{errorText(r)}</Notice>, 502)
    const d: Json = r.body
    const attempts: Json[] = d.attempts ?? []
    return render(
      c,
      `Delivery: ${d.event}`,
      'deliveries',
      <>
        <a href={orgUrl(c, 'deliveries')}>← Deliveries</a>
        <Live url={orgUrl(c, `deliveries/${d.id}`)}>
          <dl class="kv">
            <dt>Status</dt>
            <dd>
              <Badge status={d.status} />
            </dd>
            <dt>Target</dt>
            <dd>
              {d.webhookId ? <a href={orgUrl(c, `webhooks/${d.webhookId}`)}>webhook {d.webhookId}</a> : null}
              {d.webhookId ? null : `${d.targetType} ${d.targetId}`}
            </dd>
            <dt>Event</dt>
            <dd>
              {d.event} <span class="hint">{d.eventId}</span>
            </dd>
            <dt>Queued</dt>
            <dd>
              <When at={d.createdAt} />
              {d.retryOf ? (
                <>
                  {' '}
                  as a retry of <a href={orgUrl(c, `deliveries/${d.retryOf}`)}>{d.retryOf}</a>
                </>
              ) : null}
            </dd>
            {d.nextAttemptAt ? (
              <>
                <dt>Next attempt</dt>
                <dd>
                  <When at={d.nextAttemptAt} />
                </dd>
              </>
            ) : null}
            {d.heldUntil ? (
              <>
                <dt>Held back until</dt>
                <dd>
                  <When at={d.heldUntil} /> <span class="hint">the target keeps failing</span>
                </dd>
              </>
            ) : null}
            {d.deliveredAt ? (
              <>
                <dt>Delivered</dt>
                <dd>
                  <When at={d.deliveredAt} />
                </dd>
              </>
            ) : null}
          </dl>
          <RetryDelivery c={c} d={d} />
          <h2>Attempts</h2>
          {attempts.length ? (
            <ol class="timeline" aria-label="Attempts">
              {attempts.map((a) => (
                <li>
                  <strong>Attempt {a.attempt}</strong> <When at={a.at} /> — <Badge status={a.outcome} />
                  {a.responseStatus === null ? ' no answer' : ` HTTP ${a.responseStatus}`}
                  {a.responseTimeMs === null ? '' : ` in ${a.responseTimeMs} ms`}
                  {a.errorMessage ? <div class="vendor-message">{a.errorMessage}</div> : null}
                  {a.requestHeaders ? (
                    <details>
                      <summary>Request headers</summary>
                      <dl class="kv">
                        {Object.entries(a.requestHeaders as Record<string, string>).map(([k, v]) => (
                          <>
                            <dt>{k}</dt>
                            <dd>
                              <code>{v}</code>
                            </dd>
                          </>
                        ))}
                      </dl>
                    </details>
                  ) : null}
                  {a.responseBody ? (
                    <details>
                      <summary>Response body</summary>
                      <JsonBlock value={a.responseBody} />
                    </details>
                  ) : null}
                </li>
              ))}
            </ol>
          ) : (
            <Empty>Not attempted yet.</Empty>
          )}
          {attempts.some((a) => a.requestHeaders === null && a.outcome === 'delivered') ? (
            <p class="hint">
              The request headers are kept for the attempts that did not get through; a successful attempt
              sends the same headers with its own signature, ids and timestamp.
            </p>
          ) : null}
        </Live>
        <h2>Payload</h2>
        <JsonBlock value={d.payload} />
      </>,
    )
  })
}
