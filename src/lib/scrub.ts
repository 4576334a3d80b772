/**
 * Removing secrets from text a vendor wrote (error bodies, stored response bodies, exception messages).
 *
 * Vendors echo what they were sent, and not always verbatim: a key percent-encoded in a URL they quote, the
 * `Authorization` header base64-encoded inside a log blob, the key spaced out or split by dashes in an HTML
 * page. So every secret is searched for in each form it can take:
 *
 *  - plain; percent-encoded (`encodeURIComponent`, with upper- or lower-case hex); form-encoded (`+` for space);
 *    JSON-escaped;
 *  - base64 and base64url of the secret alone, and the part of them that the secret alone decides when it sits
 *    at any of the three byte alignments inside a longer base64 text (so `base64("Bearer <key>")`, or the
 *    base64 of any text that contains the key, is caught without knowing what surrounds the key);
 *  - every one of these with separators between its characters (whitespace, line breaks, zero-width spaces,
 *    JSON `\n`/`\t` escapes and the punctuation `- _ . , : ; | / \ + * ' " \` ~`): matching ignores
 *    separators in the text and in the form alike, so `k e y`, `k-e-y` and base64 wrapped at 76 columns
 *    are found.
 *
 * Thresholds (why some text is left alone): a secret shorter than MIN_SECRET_CHARS is never scrubbed (a
 * Freshservice password "X" would otherwise wreck every message), and a form is matched ignoring separators, or
 * as a partial base64 run, only when it has at least MIN_LOOSE_CHARS characters besides separators: shorter
 * runs turn up in ordinary text by chance. A partial base64 run leaves at most the one base64 character at each
 * end that mixes the secret's bits with the surrounding bytes' (a few bits of its first and last byte).
 */

export const REDACTED = '[redacted]'

/** Secrets shorter than this are left in the text. */
export const MIN_SECRET_CHARS = 4

/** Forms matched across separators, and partial base64 runs, need at least this many non-separator characters. */
export const MIN_LOOSE_CHARS = 8

const ASCII_SEPARATORS = new Uint8Array(128)
for (const c of ' \t\n\r\v\f-_.,:;|/\\+*\'"`~') ASCII_SEPARATORS[c.charCodeAt(0)] = 1

function isSeparator(c: number): boolean {
  if (c < 128) return ASCII_SEPARATORS[c] === 1
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200d) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  )
}

/** The JSON escapes of whitespace: `\n` in a JSON body is a line break between two characters of a secret. */
function isEscapedSpace(c: number): boolean {
  return c === 0x6e || c === 0x74 || c === 0x72 || c === 0x66 || c === 0x62 // n t r f b
}

/** The text without separators, and where each remaining character was in the text. */
function normalise(text: string): { norm: string; at: Int32Array | undefined } {
  let i = 0
  while (i < text.length && !isSeparator(text.charCodeAt(i)) && text.charCodeAt(i) !== 0x5c) i++
  if (i === text.length) return { norm: text, at: undefined }
  const chars = new Uint16Array(text.length)
  const at = new Int32Array(text.length)
  let n = 0
  for (let j = 0; j < text.length; j++) {
    const c = text.charCodeAt(j)
    if (c === 0x5c && j + 1 < text.length && isEscapedSpace(text.charCodeAt(j + 1))) {
      j++
      continue
    }
    if (isSeparator(c)) continue
    chars[n] = c
    at[n] = j
    n++
  }
  return { norm: Buffer.from(chars.buffer, 0, n * 2).toString('utf16le'), at }
}

function strip(form: string): string {
  return normalise(form).norm
}

/**
 * A form without its separators, and how many separators it begins and ends with: a match takes in as many of
 * the text's separators at each end, so `/services/T1/B2/<token>` leaves no `/` behind.
 */
type Edges = { lead: number; trail: number }

interface Forms {
  /** Matched as they are (too short once separators are removed). */
  exact: string[]
  /** Matched in the text without separators; keyed by the form without separators. */
  loose: Map<string, Edges>
}

function edges(form: string): Edges {
  let lead = 0
  while (lead < form.length && isSeparator(form.charCodeAt(lead))) lead++
  let trail = 0
  while (trail < form.length - lead && isSeparator(form.charCodeAt(form.length - 1 - trail))) trail++
  return { lead, trail }
}

function addLoose(into: Map<string, Edges>, norm: string, e: Edges): void {
  const had = into.get(norm)
  into.set(norm, had ? { lead: Math.max(had.lead, e.lead), trail: Math.max(had.trail, e.trail) } : e)
}

/** The forms a secret takes, computed once per secret (bounded: the cache is dropped when full). */
const formsCache = new Map<string, Forms>()
const FORMS_CACHE_MAX = 5_000

function formsOf(secret: string): Forms {
  const hit = formsCache.get(secret)
  if (hit) return hit
  const whole = new Set<string>([secret, JSON.stringify(secret).slice(1, -1)])
  try {
    const pct = encodeURIComponent(secret)
    whole.add(pct).add(pct.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()))
    whole.add(new URLSearchParams([['', secret]]).toString().slice(1))
  } catch {
    // A lone surrogate has no percent-encoding; the other forms still apply.
  }
  const bytes = Buffer.from(secret, 'utf8')
  const b64 = bytes.toString('base64')
  whole.add(b64).add(b64.replace(/=+$/, '')).add(bytes.toString('base64url'))
  const partial = new Set<string>()
  for (let k = 0; k < 3; k++) {
    // With k bytes before it, base64 characters [ceil(8k/6), floor(8(k+n)/6)) carry bits of the secret only.
    const enc = Buffer.concat([Buffer.alloc(k), bytes])
      .toString('base64')
      .replace(/=+$/, '')
    const run = enc.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + bytes.length)) / 6))
    partial.add(run).add(run.replace(/\+/g, '-').replace(/\//g, '_'))
  }
  const exact = new Set<string>()
  const loose = new Map<string, Edges>()
  for (const f of whole) {
    const s = strip(f)
    if (s.length >= MIN_LOOSE_CHARS) addLoose(loose, s, edges(f))
    else if (f.length >= MIN_SECRET_CHARS) exact.add(f)
  }
  for (const f of partial) {
    const s = strip(f)
    if (s.length >= MIN_LOOSE_CHARS) addLoose(loose, s, { lead: 0, trail: 0 })
  }
  const forms = { exact: [...exact], loose }
  if (formsCache.size >= FORMS_CACHE_MAX) formsCache.clear()
  formsCache.set(secret, forms)
  return forms
}

/**
 * Removes a set of secrets, in every form above, from texts. Build one per request (from what was sent) or per
 * integration (from its credentials); `scrub` replaces each occurrence, and any overlapping ones, with REDACTED.
 */
export class Scrubber {
  static readonly none = new Scrubber([], [])

  /** Every string of at least MIN_SECRET_CHARS characters among `secrets`; other values are ignored. */
  static of(secrets: Iterable<unknown>): Scrubber {
    const exact = new Set<string>()
    const loose = new Map<string, Edges>()
    for (const s of secrets) {
      if (typeof s !== 'string' || s.length < MIN_SECRET_CHARS) continue
      const f = formsOf(s)
      for (const e of f.exact) exact.add(e)
      for (const [l, e] of f.loose) addLoose(loose, l, e)
    }
    if (exact.size === 0 && loose.size === 0) return Scrubber.none
    return new Scrubber([...exact], [...loose])
  }

  private constructor(
    private readonly exact: readonly string[],
    private readonly loose: readonly (readonly [string, Edges])[],
  ) {}

  get empty(): boolean {
    return this.exact.length === 0 && this.loose.length === 0
  }

  /** The longest stretch of text one match can cover, for callers that scrub before cutting a text short. */
  get reach(): number {
    let longest = 0
    for (const f of this.exact) longest = Math.max(longest, f.length)
    for (const [f, e] of this.loose) longest = Math.max(longest, f.length + e.lead + e.trail)
    // Separators between characters: a spaced-out secret is about twice as long; allow some slack beyond that.
    return longest * 4
  }

  scrub(text: string): string {
    if (this.empty || !text) return text
    const ranges: [number, number][] = []
    for (const f of this.exact) {
      for (let i = text.indexOf(f); i !== -1; i = text.indexOf(f, i + f.length))
        ranges.push([i, i + f.length])
    }
    if (this.loose.length > 0) {
      const { norm, at } = normalise(text)
      for (const [f, e] of this.loose) {
        for (let i = norm.indexOf(f); i !== -1; i = norm.indexOf(f, i + f.length)) {
          const last = i + f.length - 1
          let start = at ? (at[i] as number) : i
          let end = (at ? (at[last] as number) : last) + 1
          for (let n = 0; n < e.lead && start > 0 && isSeparator(text.charCodeAt(start - 1)); n++) start--
          for (let n = 0; n < e.trail && end < text.length && isSeparator(text.charCodeAt(end)); n++) end++
          ranges.push([start, end])
        }
      }
    }
    if (ranges.length === 0) return text
    ranges.sort((a, b) => a[0] - b[0])
    let out = ''
    let from = 0
    let open: [number, number] | undefined
    for (const r of ranges) {
      if (open && r[0] <= open[1]) {
        open[1] = Math.max(open[1], r[1])
        continue
      }
      if (open) {
        out += text.slice(from, open[0]) + REDACTED
        from = open[1]
      }
      open = [r[0], r[1]]
    }
    if (open) {
      out += text.slice(from, open[0]) + REDACTED
      from = open[1]
    }
    return out + text.slice(from)
  }
}

/** Removes every form of the given secrets from a text (see Scrubber). */
export function scrubSecrets(text: string, secrets: Iterable<unknown>): string {
  return Scrubber.of(secrets).scrub(text)
}

/**
 * Headers whose values are never credentials: content negotiation and framing. Everything else a request carried
 * is treated as a secret unless its sender says otherwise (signatures, generated ids, timestamps).
 */
const PUBLIC_HEADERS = new Set([
  'accept',
  'accept-charset',
  'accept-encoding',
  'accept-language',
  'cache-control',
  'connection',
  'content-encoding',
  'content-language',
  'content-length',
  'content-type',
  'expect',
  'host',
  'pragma',
  'te',
  'user-agent',
])

/**
 * The secrets a set of request headers carried: every value (except public ones), and the parts of composite
 * ones: an `Authorization`-style `<scheme> <token>` gives the token, and Basic's token its decoded `user:pass`,
 * the user and the password. (With the forms Scrubber derives, this covers the whole value in every encoding.)
 */
export function headerSecrets(
  headers: Record<string, string> | undefined,
  publicHeaders: Iterable<string> = [],
): string[] {
  if (!headers) return []
  const open = new Set([...publicHeaders].map((h) => h.toLowerCase()))
  const out: string[] = []
  for (const [name, raw] of Object.entries(headers)) {
    const key = name.toLowerCase()
    if (PUBLIC_HEADERS.has(key) || open.has(key) || typeof raw !== 'string') continue
    const value = raw.trim()
    const m = /^([A-Za-z][\w!#$%&'*+.^`|~-]*)\s+(\S.*)$/.exec(value)
    const token = m?.[2]
    // In an auth header the scheme word (`Bearer`, `Basic`) is no secret and keeps an echoed header readable; the
    // token alone is, and its forms cover the whole value's (base64 of "Bearer <token>" holds the token's run).
    // Any other header's value is a secret whole, spaces and all.
    const auth = key === 'authorization' || key === 'proxy-authorization'
    if (!auth || !token || token.length < MIN_SECRET_CHARS) out.push(value)
    if (!m || !token) continue
    out.push(token)
    if ((m[1] as string).toLowerCase() !== 'basic') continue
    const decoded = Buffer.from(token, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    // Only a token that really is base64 of `user:pass` (re-encoding gives it back) has parts worth listing.
    if (
      colon < 0 ||
      Buffer.from(decoded, 'utf8').toString('base64').replace(/=+$/, '') !== token.replace(/=+$/, '')
    )
      continue
    out.push(decoded, decoded.slice(0, colon), decoded.slice(colon + 1))
  }
  return out
}

/** Query parameter names whose values are credentials (`?api_key=…`, a Power Automate `sig`). */
const SECRET_PARAM_RE =
  /^(key|sig|signature|code|auth|token|secret|password|passwd|api[-_]?key|api[-_]?token|access[-_]?token|auth[-_]?token|client[-_]?secret)$/i

/** The values of credential-named query parameters of a URL. */
export function urlSecrets(raw: string): string[] {
  if (!raw.includes('?') && !raw.includes('@')) return []
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return []
  }
  const out: string[] = []
  for (const [k, v] of url.searchParams) if (SECRET_PARAM_RE.test(k)) out.push(v)
  if (url.password) {
    out.push(url.password)
    try {
      out.push(decodeURIComponent(url.password))
    } catch {
      // Not valid percent-encoding: the raw form is listed already.
    }
  }
  return out
}
