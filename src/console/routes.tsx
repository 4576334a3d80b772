import { timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Hono } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import type { AppContext } from '../context.ts'
import { createConsoleSession, deleteConsoleSession, findConsoleSession } from '../store/console-sessions.ts'
import { findKeyById, findKeyByToken } from '../store/tenancy.ts'
import { type ApiFetch, apiFor, qs } from './api.ts'
import type { C, ConsoleEnv } from './env.ts'
import { CSS, Empty, JS, Layout, Notice } from './layout.tsx'
import { approvalPages } from './pages-approvals.tsx'
import { changePages } from './pages-changes.tsx'
import { inboundSourcePages } from './pages-inbound-sources.tsx'
import { integrationPages } from './pages-integrations.tsx'
import { microsoft365Pages } from './pages-microsoft365.tsx'
import { otherPages } from './pages-other.tsx'
import { psaSettingsPages } from './pages-psa-settings.tsx'
import { webhookPages } from './pages-webhooks.tsx'

const COOKIE = 'pb_session'
const SESSION_TTL_MS = 8 * 60 * 60 * 1000

const require = createRequire(import.meta.url)
let htmxSource: string | undefined
function htmx(): string {
  htmxSource ??= readFileSync(require.resolve('htmx.org/dist/htmx.min.js'), 'utf8')
  return htmxSource
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * The operator console: server-rendered pages at `/`, each built from calls to the public API (`fetch` is the
 * app's own `request`, in-process) with the signed-in key. See README "Console".
 */
export function consoleRoutes(ctx: AppContext, fetch: ApiFetch) {
  const app = new Hono<ConsoleEnv>()
  const db = ctx.db.orm

  app.use('*', async (c, next) => {
    await next()
    c.header(
      'content-security-policy',
      "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    )
    c.header('x-content-type-options', 'nosniff')
    c.header('referrer-policy', 'same-origin')
    if (c.res.headers.get('content-type')?.startsWith('text/html')) c.header('cache-control', 'no-store')
  })

  app.get('/assets/htmx.min.js', (c) => {
    c.header('cache-control', 'public, max-age=3600')
    return c.body(htmx(), 200, { 'content-type': 'text/javascript; charset=utf-8' })
  })
  app.get('/assets/console.css', (c) => c.body(CSS, 200, { 'content-type': 'text/css; charset=utf-8' }))
  app.get('/assets/console.js', (c) => c.body(JS, 200, { 'content-type': 'text/javascript; charset=utf-8' }))

  const loginPage = (c: C, error?: string, status = 200) =>
    c.html(
      <Layout title="Sign in">
        {error ? <Notice kind="bad">{error}</Notice> : null}
        <form method="post" action="/login" class="card">
          <label for="key">
            API key{' '}
            <span class="hint">
              A system, partner or organization key (pbk_…). It is checked once and not kept.
            </span>
          </label>
          <input type="password" id="key" name="key" required autocomplete="off" autofocus />
          <div class="actions">
            <button type="submit" class="primary">
              Sign in
            </button>
          </div>
        </form>
      </Layout>,
      status as 200,
    )

  app.get('/login', (c) => loginPage(c as unknown as C))

  // Sign-in has no session yet to bind a CSRF token to; the browser's Origin header must be ours instead.
  app.post('/login', async (c) => {
    const origin = c.req.header('origin')
    if (origin && origin !== new URL(c.req.url).origin) return c.text('Cross-site sign-in refused', 403)
    const form = await c.req.parseBody()
    const key = typeof form.key === 'string' ? form.key.trim() : ''
    const found = key ? await findKeyByToken(db, key) : undefined
    if (!found) return loginPage(c as unknown as C, 'That API key is not valid or has been revoked.', 401)
    const session = await createConsoleSession(db, found.key.id, ctx.clock.now(), SESSION_TTL_MS)
    setCookie(c, COOKIE, session.token, {
      httpOnly: true,
      sameSite: 'Strict',
      secure: new URL(c.req.url).protocol === 'https:',
      path: '/',
      // Relative, so the browser's clock does not matter; the server checks expiry against its own.
      maxAge: Math.floor(SESSION_TTL_MS / 1000),
    })
    return c.redirect('/', 303)
  })

  // Every other console page needs a live session (and a live key behind it).
  const requireSession = async (c: C, next: () => Promise<void>) => {
    const token = getCookie(c, COOKIE)
    const session = token ? await findConsoleSession(db, token, ctx.clock.now()) : undefined
    const key = session ? await findKeyById(db, session.keyId) : undefined
    if (!session || !key) {
      if (c.req.method !== 'GET') return c.text('Your session has ended; sign in again.', 401)
      return c.redirect(`/login`, 303)
    }
    c.set('keyId', key.key.id)
    c.set('keyScope', key.key.scope)
    c.set('keyOrgId', key.key.orgId)
    c.set('csrf', session.csrfToken)
    c.set('api', apiFor(fetch, key.key.id, c.get('requestId') ?? '', new URL(c.req.url).origin))
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const header = c.req.header('x-csrf-token')
      let sent = header
      if (!sent) {
        const form = await c.req.parseBody({ all: true })
        sent = typeof form._csrf === 'string' ? form._csrf : undefined
      }
      if (!sent || !sameToken(sent, session.csrfToken))
        return c.text('Missing or wrong CSRF token; reload the page and try again.', 403)
    }
    return next()
  }
  app.use('/', requireSession)
  app.use('/logout', requireSession)
  app.use('/o/*', requireSession)

  app.post('/logout', async (c) => {
    const token = getCookie(c, COOKIE)
    if (token) await deleteConsoleSession(db, token)
    deleteCookie(c, COOKIE, { path: '/' })
    return c.redirect('/login', 303)
  })

  app.get('/', async (c) => {
    const orgId = c.get('keyOrgId')
    if (c.get('keyScope') === 'organization' && orgId) return c.redirect(`/o/${orgId}/integrations`, 303)
    const page = Number(c.req.query('page') ?? '1') || 1
    const orgs = await c.var.api('GET', `/orgs${qs({ limit: 100, page })}`)
    const items: { id: string; name: string; partnerId: string | null }[] = orgs.body?.data ?? []
    const total: number = orgs.body?.pagination?.total ?? items.length
    return c.html(
      <Layout title="Choose an organization" csrf={c.get('csrf')}>
        {items.length ? (
          <ul class="card">
            {items.map((o) => (
              <li>
                <a href={`/o/${o.id}/integrations`}>{o.name}</a>
              </li>
            ))}
          </ul>
        ) : (
          <Empty>No organizations yet. Create one with POST /api/v1/orgs.</Empty>
        )}
        {total > page * 100 ? <a href={`/?page=${page + 1}`}>More organizations</a> : null}
      </Layout>,
    )
  })

  // The organization in the URL must be one the key reaches; anything else is "not found", exactly as the API
  // answers (an organization key never learns whether another organization exists).
  app.use('/o/:org/*', async (c, next) => {
    const id = c.req.param('org')
    const r = /^[0-9a-f-]{36}$/i.test(id) ? await c.var.api('GET', `/orgs/${id}`) : { ok: false, body: null }
    if (!r.ok) {
      return c.html(
        <Layout title="Not found" csrf={c.get('csrf')}>
          <Notice kind="bad">Not found: no organization with that id is visible to your key.</Notice>
          <a href="/">Back to the start</a>
        </Layout>,
        404,
      )
    }
    c.set('org', { id: r.body.id, name: r.body.name })
    return next()
  })

  app.get('/o/:org', (c) => c.redirect(`/o/${c.req.param('org')}/integrations`, 303))
  integrationPages(app, ctx)
  webhookPages(app, ctx)
  otherPages(app, ctx)
  inboundSourcePages(app, ctx)
  psaSettingsPages(app)
  approvalPages(app)
  microsoft365Pages(app)
  changePages(app)

  app.all('/o/:org/*', (c) =>
    c.html(
      <Layout title="Not found">
        <Notice kind="bad">Not found.</Notice>
        <a href="/">Back to the start</a>
      </Layout>,
      404,
    ),
  )
  return app
}
