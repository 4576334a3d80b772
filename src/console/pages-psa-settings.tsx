import type { Hono } from 'hono'
import { errorText, type Json } from './api.ts'
import { SaveCancel } from './components.tsx'
import { type C, type ConsoleEnv, orgUrl } from './env.ts'
import { Csrf, Notice, render } from './layout.tsx'

type Message = { kind: 'ok' | 'bad'; text: string }
type Settings = Record<string, unknown>

const SEVERITIES = ['critical', 'warning', 'info'] as const

/** A text setting: `name` is its key in the settings object, dotted for nested maps (priorityMap.critical). */
const TEXT_FIELDS: { name: string; label: string; hint?: string }[] = [
  {
    name: 'companyId',
    label: 'Company',
    hint: 'company, account, department or organization new tickets belong to',
  },
  { name: 'defaultBoard', label: 'Board', hint: 'where new tickets go, on PSAs with boards' },
  {
    name: 'defaultQueue',
    label: 'Queue or group',
    hint: 'where new tickets go, on PSAs with queues or groups',
  },
  { name: 'defaultProject', label: 'Project key', hint: 'where new tickets go, on PSAs with projects' },
  { name: 'defaultStatus', label: 'Status of new tickets', hint: "the PSA's default when empty" },
  {
    name: 'defaultPriority',
    label: 'Default priority',
    hint: 'for severities without their own priority below',
  },
  { name: 'priorityMap.critical', label: 'Priority for critical alerts' },
  { name: 'priorityMap.warning', label: 'Priority for warning alerts' },
  { name: 'priorityMap.info', label: 'Priority for info alerts' },
  { name: 'statusMap.resolved', label: 'Status when the alert resolves' },
  { name: 'statusMap.acknowledged', label: 'Status when the alert is acknowledged' },
  { name: 'statusMap.escalated', label: 'Status when the alert is escalated' },
]

function valueAt(settings: Settings, dotted: string): string {
  let node: unknown = settings
  for (const key of dotted.split('.'))
    node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined
  return typeof node === 'string' ? node : ''
}

/**
 * The settings object PATCH /psa/connections/{id} takes (it replaces the stored one), from the form: empty fields
 * are left out (unset), a map with no entry is left out, and no severity ticked means every severity.
 */
function settingsFromForm(form: Record<string, unknown>): Settings {
  const out: Settings = {
    autoCreateTickets: form.autoCreateTickets === '1',
    autoSync: form.autoSync === '1',
  }
  for (const f of TEXT_FIELDS) {
    const value = String(form[f.name] ?? '').trim()
    if (!value) continue
    const [head, key] = f.name.split('.') as [string, string | undefined]
    if (key === undefined) out[head] = value
    else out[head] = { ...((out[head] as Settings | undefined) ?? {}), [key]: value }
  }
  const ticked = SEVERITIES.filter((s) => form[`severity.${s}`] === '1')
  if (ticked.length > 0 && ticked.length < SEVERITIES.length) out.severities = ticked
  return out
}

/**
 * A PSA connection's alert → ticket automation settings (PsaSettings) as a form: what `PATCH
 * /psa/connections/{id}` takes as `settings`, refused with the API's words (a company missing for a PSA whose
 * tickets need one, two places for new tickets at once), the form keeping what was typed.
 */
export function psaSettingsPages(app: Hono<ConsoleEnv>) {
  const load = async (c: C) => {
    const r = await c.var.api('GET', `/psa/connections/${encodeURIComponent(c.req.param('id') ?? '')}`)
    return r.ok && r.body.orgId === c.var.org.id ? (r.body as Json) : undefined
  }
  const page = (c: C, p: Json, settings: Settings, message?: Message, status = 200) => {
    const title = `${p.provider}${p.name ? ` · ${p.name}` : ''}`
    const severities = Array.isArray(settings.severities)
      ? (settings.severities as string[])
      : [...SEVERITIES]
    return render(
      c,
      `Ticket automation · ${title}`,
      'psa',
      <>
        <a href={orgUrl(c, 'psa')}>← PSA</a>
        {message ? <Notice kind={message.kind}>{message.text}</Notice> : null}
        <form method="post" action={orgUrl(c, `psa/${p.id}/settings`)}>
          <Csrf token={c.var.csrf} />
          <label class="check">
            <input
              type="checkbox"
              name="autoCreateTickets"
              value="1"
              checked={settings.autoCreateTickets === true}
            />{' '}
            Create a ticket for each triggered alert (notes on acknowledge and escalate, the resolved status
            when it resolves)
          </label>
          <fieldset>
            <legend>Alerts that create tickets</legend>
            {SEVERITIES.map((s) => (
              <label class="check">
                <input type="checkbox" name={`severity.${s}`} value="1" checked={severities.includes(s)} />{' '}
                {s}
              </label>
            ))}
          </fieldset>
          {TEXT_FIELDS.map((f) => (
            <>
              <label for={`psa-${f.name}`}>
                {f.label} {f.hint ? <span class="hint">{f.hint}</span> : null}
              </label>
              <input
                type="text"
                id={`psa-${f.name}`}
                name={f.name}
                maxlength={255}
                value={valueAt(settings, f.name)}
              />
            </>
          ))}
          <label class="check">
            <input type="checkbox" name="autoSync" value="1" checked={settings.autoSync !== false} /> Sync
            ticket statuses on schedule
          </label>
          <SaveCancel label="Save settings" cancelHref={orgUrl(c, 'psa')} />
        </form>
      </>,
      status,
    )
  }
  const notFound = (c: C) => render(c, 'Not found', 'psa', <Notice kind="bad">Not found.</Notice>, 404)

  app.get('/o/:org/psa/:id/settings', async (c) => {
    const p = await load(c)
    if (!p) return notFound(c)
    return page(c, p, (p.settings as Settings | undefined) ?? {})
  })
  app.post('/o/:org/psa/:id/settings', async (c) => {
    const p = await load(c)
    if (!p) return notFound(c)
    const settings = settingsFromForm(await c.req.parseBody())
    const r = await c.var.api('PATCH', `/psa/connections/${p.id}`, { settings })
    if (!r.ok) return page(c, p, settings, { kind: 'bad', text: errorText(r) }, 422)
    return c.redirect(`${orgUrl(c, 'psa')}?notice=settings`, 303)
  })
}
