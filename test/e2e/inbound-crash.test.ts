import { createHash, createHmac } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { formatKeyRing, generateKeyRing } from '../../src/vault/keyring.ts'
import { openTestDatabase, servedUrl, type TestDatabase } from '../databases.ts'
import { Receiver } from '../standins/receiver.ts'
import { apiClient, runPatchbay } from './process.ts'

const TOKEN = 'pbk_inbound_crash_bootstrap_token_0123456789'
const EVENTS = 20
const KEY_PATH = '/v4_6_release//system/callbackkey/index.rails'

let dataDir: string
let served: TestDatabase | undefined
let keys: Receiver
const ring = formatKeyRing(generateKeyRing('inbound-crash'))

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-inbound-crash-'))
  if (servedUrl) served = await openTestDatabase(inject('dbTemplate'))
  keys = await new Receiver('127.0.0.1').start()
  // The signing-key URL never answers the first process: every event is in its verify stage when it is killed.
  keys.respond(KEY_PATH, { hang: true })
})
afterAll(async () => {
  await keys.stop()
  fs.rmSync(dataDir, { recursive: true, force: true })
  await served?.drop()
})

const api = apiClient(TOKEN)

describe(`a worker killed mid-pipeline (${servedUrl ? 'served' : 'embedded'})`, () => {
  it('loses no inbound event: after a restart every one is processed', async () => {
    const env = {
      PORT: '0',
      DATA_DIR: dataDir,
      PATCHBAY_BOOTSTRAP_TOKEN: TOKEN,
      PATCHBAY_ALLOWED_TARGET_CIDRS: '127.0.0.0/8',
      PATCHBAY_PROBE_INTERVAL_MS: '0',
      LOG_LEVEL: 'info',
      ...(served ? { DATABASE_URL: served.url as string, PATCHBAY_ENCRYPTION_KEYS: ring } : {}),
    }
    const first = runPatchbay(['start'], env)
    const [, url] = (await first.waitFor(/"url":"(http:\/\/[^"]+)"/)) as RegExpMatchArray
    expect(first.stdout()).toContain('PATCHBAY_PUBLIC_URL is not set')
    const base = url as string
    const org = await api(base, 'POST', '/api/v1/orgs', { name: 'inbound crash' })
    const integration = await api(base, 'POST', '/api/v1/integrations', {
      orgId: org.body.id,
      provider: 'connectwise',
      credentials: {
        companyId: 'crash',
        publicKey: 'public-key-1',
        privateKey: 'private-key-1',
        clientId: '0f8fad5b-d9cb-469f-a165-70867728950e',
        siteUrl: `http://127.0.0.1:${keys.port}`,
      },
      enabled_capabilities: ['create_ticket'],
    })
    expect(integration.status, JSON.stringify(integration.body)).toBe(201)
    const source = await api(base, 'POST', '/api/v1/webhook-sources', {
      orgId: org.body.id,
      provider: 'connectwise',
      integrationId: integration.body.data.id,
      name: 'cw',
    })
    expect(source.status).toBe(201)
    expect(source.body.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/hooks\//)
    const k = createHash('sha256').update('crash-signing-key').digest()
    for (let i = 0; i < EVENTS; i++) {
      const body = JSON.stringify({
        Action: 'updated',
        Type: 'contact',
        ID: i,
        MessageId: `m-${i}`,
        Entity: null,
        Metadata: { key_url: `http://127.0.0.1:${keys.port}${KEY_PATH}?id=${i}` },
      })
      const res = await fetch(source.body.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-content-signature': createHmac('sha256', k).update(body).digest('base64'),
        },
        body,
      })
      expect(res.status, await res.clone().text()).toBe(202)
    }

    const deadline = Date.now() + 30_000
    while (keys.at(KEY_PATH).length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10))
    const before = await api(
      base,
      'GET',
      `/api/v1/webhook-events?sourceId=${source.body.id}&status=processed&limit=100`,
    )
    expect(before.body.data).toHaveLength(0)
    first.child.kill('SIGKILL')
    await first.exited

    keys.respond(KEY_PATH, { status: 200, body: '{"signing_key": "crash-signing-key"}' })
    const second = runPatchbay(['start'], env)
    const [, url2] = (await second.waitFor(/"url":"(http:\/\/[^"]+)"/)) as RegExpMatchArray
    let processed = 0
    const until = Date.now() + 120_000
    while (Date.now() < until) {
      const r = await api(
        url2 as string,
        'GET',
        `/api/v1/webhook-events?sourceId=${source.body.id}&status=processed&limit=100`,
      )
      processed = r.body.data.length
      if (processed === EVENTS) break
      await new Promise((r) => setTimeout(r, 250))
    }
    expect(processed).toBe(EVENTS)
    const all = await api(
      url2 as string,
      'GET',
      `/api/v1/webhook-events?sourceId=${source.body.id}&limit=100`,
    )
    expect(all.body.data).toHaveLength(EVENTS)
    second.child.kill('SIGTERM')
    expect((await second.exited).code).toBe(0)
  }, 300_000)
})
