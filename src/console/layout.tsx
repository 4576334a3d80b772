import type { Child } from 'hono/jsx'
import type { C } from './env.ts'

export interface PageContext {
  title: string
  /** The organization the page acts on, when there is one. */
  org?: { id: string; name: string } | undefined
  csrf?: string | undefined
  /** The nav entry to mark current. */
  section?: string
  /** Whether the signed-in key can switch organizations. */
  canSwitch?: boolean
}

const NAV: [string, string][] = [
  ['integrations', 'Integrations'],
  ['status', 'Integration status'],
  ['routing', 'Routing rules'],
  ['webhooks', 'Webhooks'],
  ['deliveries', 'Deliveries'],
  ['inbound', 'Webhook events'],
  ['psa', 'PSA'],
  ['microsoft365', 'Microsoft 365'],
  ['approvals', 'Approvals'],
  ['changes', 'Change management'],
  ['audit', 'Audit log'],
]

export function Layout(props: PageContext & { children?: Child }) {
  const hxHeaders = props.csrf ? JSON.stringify({ 'x-csrf-token': props.csrf }) : undefined
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{`${props.title} · Patchbay`}</title>
        <link rel="stylesheet" href="/assets/console.css" />
        <script src="/assets/htmx.min.js" defer></script>
        <script src="/assets/console.js" defer></script>
      </head>
      <body hx-headers={hxHeaders}>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href="/">
            Patchbay
          </a>
          {props.org ? (
            <span class="org">
              {props.org.name}
              {props.canSwitch ? (
                <a href="/" class="switch">
                  switch organization
                </a>
              ) : null}
            </span>
          ) : null}
          <span class="spacer" />
          <button type="button" class="theme-toggle" id="theme-toggle" aria-pressed="false">
            Dark mode
          </button>
          {props.csrf ? (
            <form method="post" action="/logout" class="inline">
              <input type="hidden" name="_csrf" value={props.csrf} />
              <button type="submit">Sign out</button>
            </form>
          ) : null}
        </header>
        {props.org ? (
          <nav class="side" aria-label="Sections">
            <ul>
              {NAV.map(([slug, label]) => (
                <li>
                  <a
                    href={`/o/${props.org?.id}/${slug}`}
                    aria-current={props.section === slug ? 'page' : undefined}
                  >
                    {label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        ) : null}
        <main id="main" tabindex={-1}>
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  )
}

export function Csrf(props: { token: string | undefined }) {
  return <input type="hidden" name="_csrf" value={props.token ?? ''} />
}

const BADGE: Record<string, string> = {
  active: 'ok',
  connected: 'ok',
  delivered: 'ok',
  processed: 'ok',
  succeeded: 'ok',
  completed: 'ok',
  approved: 'ok',
  fully_approved: 'ok',
  verified: 'ok',
  consented: 'warn',
  integrated: 'warn',
  scheduled: 'warn',
  queued: 'warn',
  running: 'warn',
  pending_approval: 'warn',
  expired: 'muted',
  cancelled: 'muted',
  error: 'bad',
  failed: 'bad',
  rejected: 'bad',
  disconnected: 'muted',
  inactive: 'muted',
  paused: 'muted',
  pending_verify: 'warn',
  needs_attention: 'warn',
  pending: 'warn',
  retrying: 'warn',
  retry: 'warn',
  registered: 'ok',
  manual: 'muted',
  deactivated: 'muted',
  in_progress: 'warn',
  received: 'warn',
  processing: 'warn',
}

export function Badge(props: { status: string | null | undefined }) {
  const s = props.status ?? 'unknown'
  return <span class={`badge ${BADGE[s] ?? 'muted'}`}>{s.replaceAll('_', ' ')}</span>
}

export function Notice(props: { kind: 'ok' | 'bad' | 'info'; children?: Child }) {
  return (
    <div class={`notice ${props.kind}`} role={props.kind === 'bad' ? 'alert' : 'status'}>
      {props.children}
    </div>
  )
}

export function Empty(props: { children?: Child }) {
  return <p class="empty">{props.children}</p>
}

export function When(props: { at: string | null | undefined }) {
  if (!props.at) return <span class="muted">—</span>
  return <time datetime={props.at}>{props.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>
}

export function JsonBlock(props: { value: unknown }) {
  const text = typeof props.value === 'string' ? props.value : JSON.stringify(props.value, null, 2)
  return <pre class="json">{text}</pre>
}

/**
 * The part of a page that changes on its own (probe results, delivery outcomes, inbound events): htmx fetches
 * the same page every 5 s and swaps in only this element, so there is no second renderer to keep in step.
 */
export function Live(props: { url: string; children?: Child }) {
  return (
    <div id="live" hx-get={props.url} hx-trigger="every 5s" hx-select="#live" hx-swap="outerHTML">
      {props.children}
    </div>
  )
}

export const CSS = `
:root{--bg:#f7f8fa;--fg:#15181d;--card:#fff;--line:#d5d9e0;--muted:#5b6472;--accent:#1f5fbf;--ok:#17703a;--ok-bg:#dff3e6;--bad:#a4161a;--bad-bg:#fbe3e3;--warn:#7a5400;--warn-bg:#fff1cc;--mut-bg:#eceef2;--focus:#ffbf47}
:root[data-theme=dark]{--bg:#111418;--fg:#e8eaed;--card:#1b1f25;--line:#343a44;--muted:#a3acb9;--accent:#7fb0ff;--ok:#7ee2a0;--ok-bg:#123821;--bad:#ff9b9b;--bad-bg:#4a1518;--warn:#ffd36b;--warn-bg:#43350c;--mut-bg:#2a2f37}
@media (prefers-color-scheme:dark){:root:not([data-theme=light]){--bg:#111418;--fg:#e8eaed;--card:#1b1f25;--line:#343a44;--muted:#a3acb9;--accent:#7fb0ff;--ok:#7ee2a0;--ok-bg:#123821;--bad:#ff9b9b;--bad-bg:#4a1518;--warn:#ffd36b;--warn-bg:#43350c;--mut-bg:#2a2f37}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg);display:grid;grid-template-columns:14rem 1fr;grid-template-rows:auto 1fr;min-height:100vh}
a{color:var(--accent)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;z-index:9;background:var(--card);padding:.5rem}
.top{grid-column:1/-1;display:flex;gap:1rem;align-items:center;padding:.6rem 1rem;border-bottom:1px solid var(--line);background:var(--card);flex-wrap:wrap}
.brand{font-weight:700;text-decoration:none;color:var(--fg);font-size:1.1rem}
.org{color:var(--muted)}.switch{margin-left:.6rem;font-size:.85rem}
.spacer{flex:1}
.side ul{list-style:none;margin:0;padding:1rem .5rem}
.side a{display:block;padding:.4rem .7rem;border-radius:6px;text-decoration:none;color:var(--fg)}
.side a[aria-current=page]{background:var(--mut-bg);font-weight:600}
main{padding:1rem 1.5rem 3rem;min-width:0;grid-column:2}
body:not(:has(.side)) main{grid-column:1/-1;max-width:60rem;margin:0 auto;width:100%}
h1{font-size:1.5rem;margin:.3rem 0 1rem}h2{font-size:1.15rem;margin:1.5rem 0 .6rem}
table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line)}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}
.table-wrap{overflow-x:auto}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.8rem;font-weight:600;white-space:nowrap}
.badge.ok{background:var(--ok-bg);color:var(--ok)}.badge.bad{background:var(--bad-bg);color:var(--bad)}.badge.warn{background:var(--warn-bg);color:var(--warn)}.badge.muted{background:var(--mut-bg);color:var(--muted)}
.notice{padding:.7rem 1rem;border-radius:8px;margin:.8rem 0;border:1px solid var(--line);background:var(--card)}
.notice.ok{border-color:var(--ok);background:var(--ok-bg)}.notice.bad{border-color:var(--bad);background:var(--bad-bg)}
.empty{color:var(--muted);padding:1.5rem;border:1px dashed var(--line);border-radius:8px;text-align:center}
.muted{color:var(--muted)}
button,.button{font:inherit;padding:.4rem .9rem;border-radius:6px;border:1px solid var(--line);background:var(--card);color:var(--fg);cursor:pointer;text-decoration:none;display:inline-block}
button.primary,.button.primary{background:var(--accent);border-color:var(--accent);color:var(--bg)}
button.danger{border-color:var(--bad);color:var(--bad)}
form.inline{display:inline}
.actions{display:flex;gap:.5rem;flex-wrap:wrap;align-items:center;margin:.8rem 0}
.top form{margin:0}
label{display:block;font-weight:600;margin:.8rem 0 .2rem}
.req{color:var(--bad)}
.hint{display:block;font-weight:400;font-size:.85rem;color:var(--muted)}
input[type=text],input[type=password],input[type=url],input[type=number],input[type=datetime-local],select,textarea{font:inherit;width:100%;max-width:34rem;padding:.4rem .5rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
fieldset{border:1px solid var(--line);border-radius:8px;margin:1rem 0;max-width:40rem}
.check{font-weight:400;display:flex;gap:.4rem;align-items:center;margin:.2rem 0}
.filters{display:flex;gap:.8rem;flex-wrap:wrap;align-items:end;margin-bottom:1rem}.filters label{margin:0}.filters select,.filters input{width:auto}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:1rem;margin-bottom:1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1rem}
.card .n{font-size:2rem;font-weight:700}
.strip{display:flex;gap:1px;height:1.2rem;min-width:8rem}
.strip span{flex:1;min-width:2px;max-width:10px;background:var(--mut-bg)}.strip .ok{background:var(--ok)}.strip .bad{background:var(--bad)}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;overflow-wrap:anywhere}
pre.json{background:var(--mut-bg);padding:.7rem;border-radius:6px;overflow:auto;max-height:20rem;font-size:.85rem}
ol.timeline{border-left:2px solid var(--line);margin:.5rem 0;padding-left:1rem}ol.timeline li{margin:.3rem 0}
details>summary{cursor:pointer}
#settings>.card,.widget,details.card{margin:.8rem 0}#settings>.card>h2,.widget>h2{margin-top:0}details.card>summary{font-weight:600}
svg.chart{max-width:100%;height:auto;display:block;margin:1rem 0;color:var(--muted)}
svg.chart rect.ok{fill:var(--ok)}svg.chart rect.bad{fill:var(--bad)}svg.chart text{fill:var(--muted);font-size:9px}
@media (max-width:760px){body{grid-template-columns:1fr}.side ul{display:flex;flex-wrap:wrap;padding:.4rem;gap:.2rem}main{grid-column:1;padding:1rem;overflow-wrap:anywhere}fieldset{min-width:0}}
`

/** Theme toggle: remembered in localStorage (a display preference only; nothing secret is ever kept there). */
export const JS = `
(function(){var r=document.documentElement,k='patchbay-theme',s=localStorage.getItem(k);if(s)r.dataset.theme=s;
function dark(){return r.dataset.theme?r.dataset.theme==='dark':matchMedia('(prefers-color-scheme: dark)').matches}
function sync(b){b.setAttribute('aria-pressed',String(dark()));b.textContent=dark()?'Light mode':'Dark mode'}
document.addEventListener('DOMContentLoaded',function(){var b=document.getElementById('theme-toggle');if(!b)return;sync(b);
matchMedia('(prefers-color-scheme: dark)').addEventListener('change',function(){sync(b)});
b.addEventListener('click',function(){r.dataset.theme=dark()?'light':'dark';localStorage.setItem(k,r.dataset.theme);sync(b)})})})();
`

/** A console page in the layout, for the organization in the URL. */
export function render(
  c: C,
  title: string,
  section: string,
  body: Child,
  status = 200,
): Response | Promise<Response> {
  const org = c.get('org')
  return c.html(
    <Layout
      title={title}
      org={org}
      csrf={c.get('csrf')}
      section={section}
      canSwitch={c.get('keyScope') !== 'organization'}
    >
      {body}
    </Layout>,
    status as 200,
  )
}
