import type { Hono } from 'hono'
import { type ApiResult, errorText, type Json, qs } from './api.ts'
import { DataTable, FilterForm, Pager, SelectFilter } from './components.tsx'
import { type C, type ConsoleEnv, orgUrl } from './env.ts'
import { Badge, Csrf, Empty, JsonBlock, Live, Notice, render, When } from './layout.tsx'

const STATUSES = ['pending_approval', 'queued', 'running', 'completed', 'failed', 'rejected', 'expired']

type Message = { kind: 'ok' | 'bad'; text: string }

// After a successful decision the browser goes back to the page (a reload repeats nothing); the notice is one of
// these fixed sentences, never text taken from the URL.
const NOTICES: Record<string, string> = {
  approved: 'Approved: the action is queued and runs now.',
  rejected: 'Rejected: the action will not run.',
  retried: 'Retry queued.',
}

/** The vendor's preview of what the action will do: its dry run, or why the vendor refused it. */
function Preview(props: { preview: Json }) {
  const p = props.preview
  if (p === null || p === undefined) return <span class="muted">No preview</span>
  if (p.ok === false)
    return (
      <div class="vendor-message">
        Preview refused{p.status ? ` (HTTP ${p.status})` : ''}: {String(p.error ?? '')}
      </div>
    )
  return <JsonBlock value={p.vendor ?? p} />
}

function Decide(props: { c: C; a: Json; back: string }) {
  const { c, a } = props
  return (
    <div class="actions">
      <form method="post" action={orgUrl(c, `approvals/${a.id}/approve`)}>
        <Csrf token={c.var.csrf} />
        <input type="hidden" name="back" value={props.back} />
        <button type="submit" class="primary" aria-label={`Approve ${a.action} ${a.id}`}>
          Approve
        </button>
      </form>
      <details>
        <summary>Reject…</summary>
        <form method="post" action={orgUrl(c, `approvals/${a.id}/reject`)}>
          <Csrf token={c.var.csrf} />
          <input type="hidden" name="back" value={props.back} />
          <label for={`reason-${a.id}`}>Reason</label>
          <textarea id={`reason-${a.id}`} name="reason" required maxlength={2000} rows={2} />
          <div class="actions">
            <button type="submit" class="danger">
              Reject
            </button>
          </div>
        </form>
      </details>
    </div>
  )
}

/** The action, when it belongs to the organization in the URL (a partner key reaches several). */
async function getAction(c: C, id: string): Promise<ApiResult> {
  const r = await c.var.api('GET', `/actions/${encodeURIComponent(id)}`)
  if (r.ok && r.body?.orgId !== c.var.org.id)
    return { status: 404, ok: false, body: { error: 'Action not found' } }
  return r
}

export function approvalPages(app: Hono<ConsoleEnv>) {
  const list = async (c: C, message?: Message) => {
    const status = c.req.query('status') ?? 'pending_approval'
    const cursor = c.req.query('cursor') || undefined
    const r = await c.var.api(
      'GET',
      `/actions${qs({ orgId: c.var.org.id, status: status || undefined, cursor, limit: 25 })}`,
    )
    const items: Json[] = r.body?.data ?? []
    return render(
      c,
      'Approvals',
      'approvals',
      <>
        {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
        <FilterForm>
          <SelectFilter label="Status" name="status" value={status} options={STATUSES} />
        </FilterForm>
        {!r.ok ? <Notice kind="bad">{errorText(r)}</Notice> : null}
        <Live url={`${orgUrl(c, 'approvals')}${qs({ status, cursor })}`}>
          <DataTable
            head={['Action', 'Status', 'Requested', 'Preview', '']}
            rows={items}
            row={(a) => (
              <tr>
                <td>
                  <a href={orgUrl(c, `approvals/${a.id}`)}>{a.action}</a>
                  <div class="hint">{a.provider}</div>
                </td>
                <td>
                  <Badge status={a.status} />
                  {a.rejectReason ? <div class="hint">{a.rejectReason}</div> : null}
                  {a.error ? <div class="hint vendor-message">{a.error}</div> : null}
                </td>
                <td>
                  <When at={a.createdAt} />
                  {a.expiresAt && a.status === 'pending_approval' ? (
                    <div class="hint">
                      expires <When at={a.expiresAt} />
                    </div>
                  ) : null}
                </td>
                <td>
                  <Preview preview={a.preview} />
                </td>
                <td>{a.status === 'pending_approval' ? <Decide c={c} a={a} back="list" /> : null}</td>
              </tr>
            )}
            empty={
              <Empty>
                No actions{status ? ` with status ${status.replaceAll('_', ' ')}` : ''}. Actions are requested
                with POST /api/v1/integrations/&#123;id&#125;/actions.
              </Empty>
            }
          />
        </Live>
        <Pager
          older={r.body?.next ? `${orgUrl(c, 'approvals')}${qs({ status, cursor: r.body.next })}` : undefined}
        />
      </>,
    )
  }

  const detail = async (c: C, message?: Message) => {
    const id = c.req.param('id') ?? ''
    const r = await getAction(c, id)
    if (!r.ok)
      return render(
        c,
        'Action',
        'approvals',
        <>
          <Notice kind="bad">{errorText(r)}</Notice>
          <a href={orgUrl(c, 'approvals')}>Back to approvals</a>
        </>,
        r.status === 404 ? 404 : 200,
      )
    const a = r.body
    const attempts: Json[] = a.attempts ?? []
    return render(
      c,
      `Action: ${a.action}`,
      'approvals',
      <>
        {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
        <a href={orgUrl(c, 'approvals')}>← Approvals</a>
        <Live url={orgUrl(c, `approvals/${a.id}`)}>
          <dl class="kv">
            <dt>Status</dt>
            <dd>
              <Badge status={a.status} />
            </dd>
            <dt>Provider</dt>
            <dd>{a.provider}</dd>
            <dt>Requested</dt>
            <dd>
              <When at={a.createdAt} /> <span class="hint">by key {a.requestedBy ?? '—'}</span>
            </dd>
            {a.approvedAt ? (
              <>
                <dt>Approved</dt>
                <dd>
                  <When at={a.approvedAt} /> <span class="hint">by key {a.approvedBy}</span>
                </dd>
              </>
            ) : null}
            {a.rejectedAt ? (
              <>
                <dt>Rejected</dt>
                <dd>
                  <When at={a.rejectedAt} /> — {a.rejectReason}
                </dd>
              </>
            ) : null}
            {a.expiresAt ? (
              <>
                <dt>Expires</dt>
                <dd>
                  <When at={a.expiresAt} />
                </dd>
              </>
            ) : null}
            {a.error ? (
              <>
                <dt>Error</dt>
                <dd class="vendor-message">{a.error}</dd>
              </>
            ) : null}
            {a.result ? (
              <>
                <dt>Result</dt>
                <dd>
                  HTTP {a.result.status}
                  {a.result.vendorRef ? ` · ${a.result.vendorRef}` : ''}
                </dd>
              </>
            ) : null}
          </dl>
          {a.status === 'pending_approval' ? <Decide c={c} a={a} back="detail" /> : null}
          {a.status === 'failed' ? (
            <form method="post" action={orgUrl(c, `approvals/${a.id}/retry`)}>
              <Csrf token={c.var.csrf} />
              <button type="submit">Retry</button>
            </form>
          ) : null}
          <h2>Input</h2>
          <JsonBlock value={a.input} />
          <h2>Preview</h2>
          <Preview preview={a.preview} />
          <h2>Attempts</h2>
          {attempts.length ? (
            <ol class="timeline" aria-label="Attempts">
              {attempts.map((t) => (
                <li>
                  <strong>Attempt {t.attempt}</strong> <When at={t.startedAt} /> —{' '}
                  <Badge status={t.outcome ?? (t.finishedAt ? 'unknown' : 'cut short')} />
                  {t.vendorStatus !== null ? ` HTTP ${t.vendorStatus}` : ''}
                  {t.error ? <div class="vendor-message">{t.error}</div> : null}
                  {t.vendorBody ? (
                    <details>
                      <summary>Vendor response</summary>
                      <JsonBlock value={t.vendorBody} />
                    </details>
                  ) : null}
                </li>
              ))}
            </ol>
          ) : (
            <Empty>No attempts yet.</Empty>
          )}
        </Live>
      </>,
    )
  }

  app.get('/o/:org/approvals', (c) => {
    const notice = NOTICES[c.req.query('notice') ?? '']
    return list(c, notice ? { kind: 'ok', text: notice } : undefined)
  })
  app.get('/o/:org/approvals/:id', (c) => {
    const notice = NOTICES[c.req.query('notice') ?? '']
    return detail(c, notice ? { kind: 'ok', text: notice } : undefined)
  })

  // The API's answer is shown verbatim when it refuses (403 for the requester's own action, 409 when decided).
  const decide = (verb: 'approve' | 'reject' | 'retry', notice: string) =>
    app.post(`/o/:org/approvals/:id/${verb}`, async (c) => {
      const id = c.req.param('id')
      const found = await getAction(c, id)
      if (!found.ok) return detail(c)
      const form = await c.req.parseBody()
      const back = form.back === 'list' ? 'list' : 'detail'
      const body =
        verb === 'reject' ? { reason: typeof form.reason === 'string' ? form.reason : '' } : undefined
      const r = await c.var.api('POST', `/actions/${encodeURIComponent(id)}/${verb}`, body)
      if (r.ok)
        return c.redirect(
          back === 'list'
            ? `${orgUrl(c, 'approvals')}?notice=${notice}`
            : orgUrl(c, `approvals/${id}?notice=${notice}`),
          303,
        )
      const message: Message = { kind: 'bad', text: `HTTP ${r.status}: ${errorText(r)}` }
      return back === 'list' ? list(c, message) : detail(c, message)
    })
  decide('approve', 'approved')
  decide('reject', 'rejected')
  decide('retry', 'retried')
}
