import type { Hono } from 'hono'
import type { Child } from 'hono/jsx'
import { errorText, type Json, qs } from './api.ts'
import { DataTable, FilterForm, Pager, SelectFilter } from './components.tsx'
import { type C, type ConsoleEnv, orgUrl } from './env.ts'
import { Badge, Csrf, Empty, Notice, render, When } from './layout.tsx'

type Message = { kind: 'ok' | 'bad'; text: string }

const CHANGE_STATUSES = [
  'created',
  'fully_approved',
  'scheduled',
  'in_progress',
  'completed',
  'failed',
  'cancelled',
]
const OPEN = ['created', 'fully_approved', 'scheduled', 'in_progress']
/** The ticket status settings in the seed's order (step 6), with the API's field names. */
const STATUS_FIELDS: [string, string][] = [
  ['created', 'Change linked (ticket linked to a new change)'],
  ['fullyApproved', 'Fully approved'],
  ['scheduled', 'Implementation scheduled'],
  ['completed', 'Implementation completed'],
  ['cancelled', 'Change cancelled'],
]

// Fixed sentences after a successful post (never text from the URL).
const NOTICES: Record<string, string> = {
  saved: 'Settings saved.',
  created: 'Change created.',
  linked: 'Ticket linked: the change is noted on the ticket.',
  time: 'Time entry added to the ConnectWise ticket.',
  approve: 'Approval recorded.',
  schedule: 'Implementation scheduled.',
  start: 'Implementation started.',
  complete: 'Change completed.',
  fail: 'Implementation recorded as failed.',
  cancel: 'Change cancelled.',
}
const noticeOf = (c: C): Message | undefined => {
  const n = NOTICES[c.req.query('notice') ?? '']
  return n ? { kind: 'ok', text: n } : undefined
}

const str = (v: unknown) => (typeof v === 'string' ? v.trim() : '')
/** A `datetime-local` value, read as UTC (the labels say so), as the API's ISO timestamp. */
const isoOf = (v: unknown) => {
  const s = str(v)
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(s) ? `${s.length === 16 ? `${s}:00` : s}.000Z` : s
}
const windowOf = (f: Record<string, unknown>) =>
  str(f.start) || str(f.end) ? { start: isoOf(f.start), end: isoOf(f.end) } : undefined
const person = (f: Record<string, unknown>, p: string) => ({
  name: str(f[`${p}Name`]),
  email: str(f[`${p}Email`]),
})

function Field(props: {
  id: string
  label: string
  name?: string
  value?: string
  type?: string
  required?: boolean | undefined
  hint?: string
  form?: string
}) {
  return (
    <>
      <label for={props.id}>
        {props.label}
        {props.required ? <span class="req"> *</span> : null}
        {props.hint ? <span class="hint">{props.hint}</span> : null}
      </label>
      <input
        type={props.type ?? 'text'}
        id={props.id}
        name={props.name ?? props.id}
        value={props.value ?? ''}
        required={props.required}
        form={props.form}
      />
    </>
  )
}

function PersonFields(props: { prefix: string; label: string; required?: boolean | undefined }) {
  return (
    <fieldset>
      <legend>{props.label}</legend>
      <Field id={`${props.prefix}Name`} label="Name" required={props.required} />
      <Field id={`${props.prefix}Email`} label="Email" type="email" required={props.required} />
    </fieldset>
  )
}

function WindowFields(props: { prefix: string; required?: boolean | undefined }) {
  return (
    <>
      <Field
        id={`${props.prefix}-start`}
        name="start"
        label="Window start (UTC)"
        type="datetime-local"
        required={props.required}
      />
      <Field
        id={`${props.prefix}-end`}
        name="end"
        label="Window end (UTC)"
        type="datetime-local"
        required={props.required}
      />
    </>
  )
}

export function changePages(app: Hono<ConsoleEnv>) {
  // ---- Settings: the seed's setup steps in its order (integration, company with board filter, configuration
  // types, sync, ticket statuses). Lists come from the PSA through the API, for the chosen integration.
  const settingsPage = async (c: C, message?: Message, synced?: Json) => {
    const [saved, conns] = await Promise.all([
      c.var.api('GET', `/changes/settings${qs({ orgId: c.var.org.id })}`),
      c.var.api('GET', `/psa/connections${qs({ orgId: c.var.org.id, limit: 100 })}`),
    ])
    const s: Json = saved.ok ? saved.body : null
    const connections: Json[] = conns.body?.data ?? []
    const integrationId: string | undefined =
      c.req.query('integrationId') || s?.integrationId || connections[0]?.id
    const q = c.req.query('q') || undefined
    const psaQ = { orgId: c.var.org.id, integrationId }
    const [companies, boards, types] = integrationId
      ? await Promise.all([
          c.var.api('GET', `/changes/companies${qs({ ...psaQ, q })}`),
          c.var.api('GET', `/changes/boards${qs(psaQ)}`),
          c.var.api('GET', `/changes/configuration-types${qs(psaQ)}`),
        ])
      : [undefined, undefined, undefined]
    const companyList: Json[] = companies?.body?.data ?? []
    if (s?.company && !companyList.some((x) => x.id === s.company.id))
      companyList.unshift({ id: s.company.id, name: s.company.name ?? `Company ${s.company.id}` })
    const boardIds: string[] = s?.company?.boardIds ?? []
    const typeMap = new Map<string, string>(
      (s?.configurationTypes ?? []).map((t: Json) => [t.typeId, t.deviceType]),
    )
    const settingsUrl = orgUrl(c, 'changes/settings')
    return render(
      c,
      'Change management settings',
      'changes',
      <>
        <a href={orgUrl(c, 'changes')}>← Changes</a>
        {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
        {!connections.length ? (
          <Empty>
            No PSA connection yet: add a ConnectWise connection (POST /api/v1/psa/connections) to link changes
            to its tickets.
          </Empty>
        ) : null}
        {/* Forms the settings form's sections point at (HTML forms cannot nest). */}
        <form id="company-search" method="get" action={settingsUrl}>
          {integrationId ? <input type="hidden" name="integrationId" value={integrationId} /> : null}
        </form>
        <form id="device-sync" method="post" action={orgUrl(c, 'changes/settings/device-sync')}>
          <Csrf token={c.var.csrf} />
        </form>
        <form method="post" action={settingsUrl} id="settings">
          <Csrf token={c.var.csrf} />
          <section class="card" aria-labelledby="s-integration">
            <h2 id="s-integration">ConnectWise integration</h2>
            <label for="cs-integration">PSA connection</label>
            <select id="cs-integration" name="integrationId" required>
              {connections.map((p) => (
                <option value={p.id} selected={p.id === integrationId}>
                  {p.provider}
                  {p.name ? ` · ${p.name}` : ''}
                </option>
              ))}
            </select>
            <label class="check">
              <input type="checkbox" name="enabled" value="1" checked={s ? s.enabled : true} /> Enable ticket
              linking and automatic ticket updates
            </label>
          </section>
          <section class="card" aria-labelledby="s-company">
            <h2 id="s-company">Company mapping</h2>
            <label for="cs-q">Search companies</label>
            <div class="actions">
              <input type="text" id="cs-q" name="q" value={q ?? ''} form="company-search" />
              <button type="submit" form="company-search">
                Search
              </button>
            </div>
            {companies && !companies.ok ? <Notice kind="bad">{errorText(companies)}</Notice> : null}
            <label for="cs-company">
              Company <span class="hint">This organization's company in ConnectWise</span>
            </label>
            <select id="cs-company" name="company">
              <option value="">None</option>
              {companyList.map((x) => (
                <option value={`${x.id}|${x.name}`} selected={x.id === s?.company?.id}>
                  {x.name} (#{x.id})
                </option>
              ))}
            </select>
            <fieldset>
              <legend>Board filter (only tickets on these boards can be linked; none: every board)</legend>
              {boards && !boards.ok ? <Notice kind="bad">{errorText(boards)}</Notice> : null}
              {(boards?.body?.data ?? []).map((b: Json) => (
                <label class="check">
                  <input type="checkbox" name="boardIds" value={b.id} checked={boardIds.includes(b.id)} />{' '}
                  {b.name}
                </label>
              ))}
            </fieldset>
          </section>
          <section class="card" aria-labelledby="s-types">
            <h2 id="s-types">Configuration type mapping</h2>
            <p class="hint">
              Give a device type for each ConnectWise configuration type to import; leave it empty to skip the
              type.
            </p>
            {types && !types.ok ? <Notice kind="bad">{errorText(types)}</Notice> : null}
            {(types?.body?.data ?? []).map((t: Json) => (
              <>
                <input type="hidden" name={`typeName.${t.id}`} value={t.name} />
                <Field
                  id={`type-${t.id}`}
                  name={`type.${t.id}`}
                  label={`Device type for “${t.name}”`}
                  value={typeMap.get(t.id) ?? ''}
                />
              </>
            ))}
          </section>
          <section class="card" aria-labelledby="s-sync">
            <h2 id="s-sync">Sync configurations</h2>
            <p class="hint">Imports the mapped company's configurations of the mapped types as devices.</p>
            {synced ? (
              <output class="sync-result" aria-live="polite">
                <strong>{synced.created}</strong> created, <strong>{synced.updated}</strong> updated,{' '}
                <strong>{synced.skipped}</strong> skipped
                {synced.complete ? '' : ' (stopped early; the next sync resumes)'}
                {synced.error ? <div class="vendor-message">{synced.error}</div> : null}
              </output>
            ) : null}
            <div class="actions">
              <button type="submit" form="device-sync" disabled={!s}>
                Sync Configurations Now
              </button>
              {!s ? <span class="hint">Save the settings first.</span> : null}
            </div>
          </section>
          <section class="card" aria-labelledby="s-statuses">
            <h2 id="s-statuses">Ticket status settings</h2>
            <label class="check">
              <input
                type="checkbox"
                name="autoUpdateStatus"
                value="1"
                checked={s?.autoUpdateStatus ?? false}
              />{' '}
              Update the ticket's status on each lifecycle event
            </label>
            {STATUS_FIELDS.map(([k, label]) => (
              <Field
                id={`status-${k}`}
                name={`status.${k}`}
                label={label}
                value={s?.statuses?.[k] ?? ''}
                hint="Status name exactly as on the ticket's board; empty: leave the status"
              />
            ))}
          </section>
          <div class="actions">
            <button type="submit" class="primary">
              Save settings
            </button>
          </div>
        </form>
      </>,
    )
  }
  app.get('/o/:org/changes/settings', (c) => settingsPage(c, noticeOf(c)))
  app.post('/o/:org/changes/settings', async (c) => {
    const f = await c.req.parseBody({ all: true })
    const [companyId, ...companyName] = str(f.company).split('|')
    const boards = ([] as unknown[])
      .concat(f.boardIds ?? [])
      .map(str)
      .filter(Boolean)
    const statuses: Record<string, string> = {}
    for (const [k] of STATUS_FIELDS) if (str(f[`status.${k}`])) statuses[k] = str(f[`status.${k}`])
    const configurationTypes = Object.keys(f)
      .filter((k) => k.startsWith('type.') && str(f[k]))
      .map((k) => {
        const id = k.slice(5)
        return { typeId: id, typeName: str(f[`typeName.${id}`]) || undefined, deviceType: str(f[k]) }
      })
    const body = {
      integrationId: str(f.integrationId),
      enabled: f.enabled === '1',
      autoUpdateStatus: f.autoUpdateStatus === '1',
      statuses,
      company: companyId ? { id: companyId, name: companyName.join('|'), boardIds: boards } : null,
      configurationTypes,
    }
    const r = await c.var.api('PUT', `/changes/settings${qs({ orgId: c.var.org.id })}`, body)
    if (r.ok) return c.redirect(`${orgUrl(c, 'changes/settings')}?notice=saved`, 303)
    return settingsPage(c, { kind: 'bad', text: errorText(r) })
  })
  app.post('/o/:org/changes/settings/device-sync', async (c) => {
    const r = await c.var.api('POST', `/changes/device-sync${qs({ orgId: c.var.org.id })}`)
    return r.ok
      ? settingsPage(c, { kind: 'ok', text: 'Configurations synced.' }, r.body)
      : settingsPage(c, { kind: 'bad', text: errorText(r) })
  })

  // ---- The change list.
  app.get('/o/:org/changes', async (c) => {
    const status = c.req.query('status') || undefined
    const page = Math.max(1, Number(c.req.query('page') ?? '1') || 1)
    const [r, s] = await Promise.all([
      c.var.api('GET', `/changes${qs({ orgId: c.var.org.id, status, page, limit: 25 })}`),
      c.var.api('GET', `/changes/settings${qs({ orgId: c.var.org.id })}`),
    ])
    const items: Json[] = r.body?.data ?? []
    const total: number = r.body?.pagination?.total ?? 0
    return render(
      c,
      'Change management',
      'changes',
      <>
        {!s.ok ? (
          <Notice kind="info">
            Change management is not set up yet: <a href={orgUrl(c, 'changes/settings')}>open the settings</a>
            .
          </Notice>
        ) : null}
        <div class="actions">
          <a class="button primary" href={orgUrl(c, 'changes/new')}>
            + New change
          </a>
          <a class="button" href={orgUrl(c, 'changes/settings')}>
            Settings
          </a>
        </div>
        <FilterForm>
          <SelectFilter label="Status" name="status" value={status} options={CHANGE_STATUSES} />
        </FilterForm>
        {!r.ok ? <Notice kind="bad">{errorText(r)}</Notice> : null}
        <DataTable
          head={['Change', 'Status', 'Risk', 'Window', 'Ticket']}
          rows={items}
          row={(x) => (
            <tr>
              <td>
                <a href={orgUrl(c, `changes/${x.id}`)}>{x.title}</a>
              </td>
              <td>
                <Badge status={x.status} />
              </td>
              <td>{x.risk}</td>
              <td>
                <When at={x.window?.start} /> – <When at={x.window?.end} />
              </td>
              <td>
                {x.ticket ? (
                  <a href={x.ticket.url} rel="noopener noreferrer" target="_blank">
                    #{x.ticket.number}
                  </a>
                ) : (
                  <span class="muted">—</span>
                )}
              </td>
            </tr>
          )}
          empty={<Empty>No changes{status ? ` with status ${status.replaceAll('_', ' ')}` : ''} yet.</Empty>}
        />
        <Pager
          newer={page > 1 ? `${orgUrl(c, 'changes')}${qs({ status, page: page - 1 })}` : undefined}
          older={page * 25 < total ? `${orgUrl(c, 'changes')}${qs({ status, page: page + 1 })}` : undefined}
        />
      </>,
    )
  })

  // ---- Create a change.
  const newPage = (c: C, message?: Message) =>
    render(
      c,
      'New change',
      'changes',
      <>
        <a href={orgUrl(c, 'changes')}>← Changes</a>
        {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
        <form method="post" action={orgUrl(c, 'changes/new')}>
          <Csrf token={c.var.csrf} />
          <Field id="title" label="Title" required />
          <label for="description">
            Description <span class="hint">@hostname references link devices</span>
          </label>
          <textarea id="description" name="description" rows={3} />
          <label for="implementationPlan">Implementation plan</label>
          <textarea id="implementationPlan" name="implementationPlan" rows={4} />
          <WindowFields prefix="new" />
          <label for="risk">Risk</label>
          <select id="risk" name="risk">
            <option value="low">low</option>
            <option value="medium">medium</option>
            <option value="high">high</option>
          </select>
          <PersonFields prefix="creator" label="Change creator" required />
          <PersonFields prefix="technical" label="Technical approver" required />
          <PersonFields prefix="operational" label="Operational approver" required />
          <label class="check">
            <input type="checkbox" name="committee" value="1" /> vCAB (committee) change
          </label>
          <label for="vcab">
            vCAB members <span class="hint">One a line: Name &lt;email&gt;</span>
          </label>
          <textarea id="vcab" name="vcab" rows={2} />
          <div class="actions">
            <button type="submit" class="primary">
              Create change
            </button>
          </div>
        </form>
      </>,
    )
  app.get('/o/:org/changes/new', (c) => newPage(c))
  app.post('/o/:org/changes/new', async (c) => {
    const f = await c.req.parseBody()
    const vcab = str(f.vcab)
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => {
        const m = /^(.*?)\s*<([^>]+)>$/.exec(l)
        return m ? { name: m[1] ?? '', email: m[2] ?? '' } : { name: l, email: '' }
      })
    const window = windowOf(f)
    const body = {
      title: str(f.title),
      description: str(f.description),
      implementationPlan: str(f.implementationPlan),
      ...(window ? { window } : {}),
      risk: str(f.risk),
      creator: person(f, 'creator'),
      technicalApprover: person(f, 'technical'),
      operationalApprover: person(f, 'operational'),
      committee: f.committee === '1',
      vcabMembers: vcab,
    }
    const r = await c.var.api('POST', `/changes${qs({ orgId: c.var.org.id })}`, body)
    if (r.ok) return c.redirect(`${orgUrl(c, `changes/${r.body.id}`)}?notice=created`, 303)
    return newPage(c, { kind: 'bad', text: errorText(r) })
  })

  // ---- Change detail: the lifecycle, linking a ticket, the ConnectWise ticket widget.
  const detail = async (c: C, message?: Message) => {
    const id = c.req.param('id') ?? ''
    const r = await c.var.api('GET', `/changes/${encodeURIComponent(id)}${qs({ orgId: c.var.org.id })}`)
    if (!r.ok)
      return render(
        c,
        'Change',
        'changes',
        <>
          <Notice kind="bad">{errorText(r)}</Notice>
          <a href={orgUrl(c, 'changes')}>Back to changes</a>
        </>,
        r.status === 404 ? 404 : 200,
      )
    const x = r.body
    const base = orgUrl(c, `changes/${x.id}`)
    const email = c.req.query('email') || undefined
    const q = c.req.query('q') || undefined
    const [widget, found] = await Promise.all([
      x.ticket
        ? c.var.api('GET', `/changes/${x.id}/ticket${qs({ orgId: c.var.org.id, email })}`)
        : Promise.resolve(undefined),
      !x.ticket && q
        ? c.var.api('GET', `/changes/ticket-search${qs({ orgId: c.var.org.id, q })}`)
        : Promise.resolve(undefined),
    ])
    const approved = new Set((x.approvals ?? []).map((a: Json) => a.role))
    const step = (verb: string, label: string, fields: Child, danger = false) => (
      <details class="card">
        <summary>{label}</summary>
        <form method="post" action={`${base}/${verb}`}>
          <Csrf token={c.var.csrf} />
          {fields}
          <div class="actions">
            <button type="submit" class={danger ? 'danger' : 'primary'}>
              {label}
            </button>
          </div>
        </form>
      </details>
    )
    const t: Json = widget?.ok ? widget.body.ticket : null
    return render(
      c,
      x.title,
      'changes',
      <>
        <a href={orgUrl(c, 'changes')}>← Changes</a>
        {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
        <dl class="kv">
          <dt>Status</dt>
          <dd>
            <Badge status={x.status} />
          </dd>
          <dt>Risk</dt>
          <dd>{x.risk}</dd>
          <dt>Window</dt>
          <dd>
            <When at={x.window?.start} /> – <When at={x.window?.end} />
          </dd>
          <dt>Creator</dt>
          <dd>
            {x.creator.name} &lt;{x.creator.email}&gt;
          </dd>
          <dt>Technical approver</dt>
          <dd>
            {x.technicalApprover.name} {approved.has('technical') ? <Badge status="approved" /> : null}
          </dd>
          <dt>Operational approver</dt>
          <dd>
            {x.operationalApprover.name} {approved.has('operational') ? <Badge status="approved" /> : null}
          </dd>
          {x.committee ? (
            <>
              <dt>vCAB</dt>
              <dd>{x.vcabMembers.map((p: Json) => p.name).join(', ') || '—'}</dd>
            </>
          ) : null}
          <dt>Devices</dt>
          <dd>
            {x.devices.map((d: Json) => d.hostname).join(', ') || '—'}
            {x.unknownHostnames?.length ? (
              <div class="hint">Unknown: {x.unknownHostnames.map((h: string) => `@${h}`).join(', ')}</div>
            ) : null}
          </dd>
          {x.unscheduledResources?.length ? (
            <>
              <dt>Not in ConnectWise</dt>
              <dd>{x.unscheduledResources.map((p: Json) => `${p.name} (${p.role})`).join(', ')}</dd>
            </>
          ) : null}
        </dl>
        {x.description ? <p>{x.description}</p> : null}

        <section aria-labelledby="h-ticket" class="card widget">
          <h2 id="h-ticket">ConnectWise ticket</h2>
          {x.ticket ? (
            widget?.ok ? (
              <div id="ticket-widget">
                <p>
                  <a class="ticket-number" href={t.url} rel="noopener noreferrer" target="_blank">
                    #{t.number}
                  </a>{' '}
                  <span class="badge muted ticket-status">{t.status}</span>
                </p>
                <p class="ticket-summary">{t.summary}</p>
                <p class="hint">{t.boardName}</p>
                <PushedStatus url={`${base}/pushed-status`} ticket={x.ticket} />
                <FilterForm action={base} label={null} submit="Check">
                  <Field
                    id="tw-email"
                    name="email"
                    label="Your ConnectWise email"
                    type="email"
                    value={email ?? ''}
                    hint="Add Time Entry appears when you are a ConnectWise member"
                  />
                </FilterForm>
                {email && !widget.body.timeEntry ? (
                  <Notice kind="info">No ConnectWise member has that email.</Notice>
                ) : null}
                {widget.body.timeEntry ? (
                  <>
                    <div class="actions">
                      <a
                        class="button primary"
                        href={widget.body.timeEntry.url}
                        target="_blank"
                        rel="noopener noreferrer"
                      >
                        Add Time Entry
                      </a>
                      <span class="hint">in ConnectWise, as {widget.body.timeEntry.memberIdentifier}</span>
                    </div>
                    <details>
                      <summary>Or log time from here</summary>
                      <form method="post" action={`${base}/time-entries`}>
                        <Csrf token={c.var.csrf} />
                        <input type="hidden" name="email" value={email ?? ''} />
                        <Field
                          id="te-start"
                          name="start"
                          label="Start (UTC)"
                          type="datetime-local"
                          required
                        />
                        <Field id="te-end" name="end" label="End (UTC)" type="datetime-local" />
                        <label for="te-notes">Notes</label>
                        <textarea id="te-notes" name="notes" rows={2} />
                        <div class="actions">
                          <button type="submit">Add Time Entry</button>
                        </div>
                      </form>
                    </details>
                  </>
                ) : null}
              </div>
            ) : (
              <>
                <p>
                  <a href={x.ticket.url} rel="noopener noreferrer" target="_blank">
                    #{x.ticket.number}
                  </a>{' '}
                  {x.ticket.summary}
                </p>
                {widget ? <Notice kind="bad">{errorText(widget)}</Notice> : null}
              </>
            )
          ) : (
            <>
              <p class="muted">No ticket linked.</p>
              <FilterForm action={base} label="Ticket search" submit="Search">
                <Field
                  id="ticket-q"
                  name="q"
                  label="Search tickets"
                  value={q ?? ''}
                  hint="Summary or number"
                />
              </FilterForm>
              {found && !found.ok ? <Notice kind="bad">{errorText(found)}</Notice> : null}
              {found?.ok ? (
                (found.body.data as Json[]).length ? (
                  <ul class="ticket-results">
                    {(found.body.data as Json[]).map((tk) => (
                      <li>
                        <form method="post" action={`${base}/ticket`} class="inline">
                          <Csrf token={c.var.csrf} />
                          <input type="hidden" name="ticketId" value={tk.id} />#{tk.number} {tk.summary}{' '}
                          <span class="hint">
                            {tk.boardName} · {tk.status}
                          </span>{' '}
                          <button type="submit" aria-label={`Link ticket #${tk.number}`}>
                            Link
                          </button>
                        </form>
                      </li>
                    ))}
                  </ul>
                ) : (
                  <Empty>No open tickets match.</Empty>
                )
              ) : null}
            </>
          )}
        </section>

        <h2>Lifecycle</h2>
        {x.status === 'created'
          ? (['technical', 'operational'] as const)
              .filter((role) => !approved.has(role))
              .map((role) =>
                step(
                  'approve',
                  `Record ${role} approval`,
                  <>
                    <input type="hidden" name="role" value={role} />
                    <label for={`ap-${role}`}>
                      {role === 'technical' ? 'Technical' : 'Operational'} approval comment
                    </label>
                    <textarea id={`ap-${role}`} name="comment" rows={2} />
                  </>,
                ),
              )
          : null}
        {x.status === 'fully_approved'
          ? step('schedule', 'Schedule implementation', <WindowFields prefix="sch" />)
          : null}
        {x.status === 'scheduled'
          ? step(
              'start',
              'Start implementation',
              <PersonFields prefix="implementer" label="Implementer" required />,
            )
          : null}
        {x.status === 'in_progress' ? (
          <>
            {step(
              'complete',
              'Complete change',
              <>
                <label for="cp-notes">Completion notes</label>
                <textarea id="cp-notes" name="completionNotes" rows={2} />
                <label for="cp-tests">Test results</label>
                <textarea id="cp-tests" name="testResults" rows={2} />
              </>,
            )}
            {step(
              'fail',
              'Record failure',
              <>
                <label for="fl-reason">
                  Failure reason<span class="req"> *</span>
                </label>
                <textarea id="fl-reason" name="failureReason" rows={2} required />
                <label for="fl-rollback">Rollback notes</label>
                <textarea id="fl-rollback" name="rollbackNotes" rows={2} />
              </>,
              true,
            )}
          </>
        ) : null}
        {OPEN.includes(x.status)
          ? step(
              'cancel',
              'Cancel change',
              <>
                <label for="cn-reason">
                  Reason<span class="req"> *</span>
                </label>
                <textarea id="cn-reason" name="reason" rows={2} required />
              </>,
              true,
            )
          : null}
        {!OPEN.includes(x.status) ? (
          <p class="muted">This change is {x.status.replaceAll('_', ' ')}.</p>
        ) : null}
        {x.approvals?.length ? (
          <>
            <h2>Approvals</h2>
            <ol class="timeline">
              {x.approvals.map((a: Json) => (
                <li>
                  {a.role}: {a.name} <When at={a.at} />
                  {a.comment ? <div class="hint">{a.comment}</div> : null}
                </li>
              ))}
            </ol>
          </>
        ) : null}
      </>,
    )
  }
  // What ConnectWise last pushed about the ticket (its callbacks, via a webhook source), read from Patchbay only:
  // the widget above it is read from ConnectWise once per page view, this part refreshes itself without asking it.
  app.get('/o/:org/changes/:id/pushed-status', async (c) => {
    const id = c.req.param('id') ?? ''
    const r = await c.var.api('GET', `/changes/${encodeURIComponent(id)}${qs({ orgId: c.var.org.id })}`)
    if (!r.ok) return c.html(<Notice kind="bad">{errorText(r)}</Notice>, r.status === 404 ? 404 : 200)
    return c.html(<PushedStatus url={orgUrl(c, `changes/${id}/pushed-status`)} ticket={r.body.ticket} />)
  })
  app.get('/o/:org/changes/:id', (c) => detail(c, noticeOf(c)))

  const post = (
    verb: string,
    notice: string,
    apiPath: string,
    method: string,
    body: (f: Record<string, unknown>) => unknown,
  ) =>
    app.post(`/o/:org/changes/:id/${verb}`, async (c) => {
      const id = encodeURIComponent(c.req.param('id'))
      const f = await c.req.parseBody()
      const r = await c.var.api(method, `/changes/${id}/${apiPath}${qs({ orgId: c.var.org.id })}`, body(f))
      if (r.ok) return c.redirect(`${orgUrl(c, `changes/${id}`)}?notice=${notice}`, 303)
      return detail(c, { kind: 'bad', text: `HTTP ${r.status}: ${errorText(r)}` })
    })
  post('ticket', 'linked', 'ticket', 'PUT', (f) => ({ ticketId: str(f.ticketId) }))
  post('time-entries', 'time', 'time-entries', 'POST', (f) => ({
    email: str(f.email),
    start: isoOf(f.start),
    ...(str(f.end) ? { end: isoOf(f.end) } : {}),
    notes: str(f.notes),
  }))
  post('approve', 'approve', 'approve', 'POST', (f) => ({ role: str(f.role), comment: str(f.comment) }))
  post('schedule', 'schedule', 'schedule', 'POST', (f) => {
    const w = windowOf(f)
    return w ? { window: w } : {}
  })
  post('start', 'start', 'start', 'POST', (f) => ({ implementer: person(f, 'implementer') }))
  post('complete', 'complete', 'complete', 'POST', (f) => ({
    completionNotes: str(f.completionNotes),
    testResults: str(f.testResults),
  }))
  post('fail', 'fail', 'fail', 'POST', (f) => ({
    failureReason: str(f.failureReason),
    rollbackNotes: str(f.rollbackNotes),
  }))
  post('cancel', 'cancel', 'cancel', 'POST', (f) => ({ reason: str(f.reason) }))
}

/** The status ConnectWise's last callback gave the ticket, refreshed every 5 s from Patchbay (never from ConnectWise). */
function PushedStatus(props: { url: string; ticket: Json }) {
  const k = props.ticket
  return (
    <p
      class="hint pushed-status"
      hx-get={props.url}
      hx-trigger="every 5s"
      hx-swap="outerHTML"
      aria-live="polite"
    >
      {k?.status ? (
        <>
          ConnectWise says: <span class="badge muted">{k.status}</span> (callback,{' '}
          <When at={k.statusUpdatedAt} />)
        </>
      ) : (
        'No ConnectWise callback about this ticket yet.'
      )}
    </p>
  )
}
