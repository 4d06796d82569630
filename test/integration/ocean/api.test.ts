// Every operational route against real SQLite files and a real redis-server.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { API_KEY, startOcean, type Harness } from '../../helpers/ocean-harness.ts'

let h: Harness
before(async () => {
  h = await startOcean()
})
after(async () => {
  await h?.close()
})

async function newUser(name: string): Promise<number> {
  const r = await h.api('POST', '/api/ocean/users', { username: name, email: `${name}@example.com` })
  assert.equal(r.statusCode, 201, r.body)
  return r.json().id
}

describe('auth', () => {
  it('refuses /api/ocean/* and /metrics without the right bearer key, with a stable code', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-key-wrong-key' }, { authorization: API_KEY }, { authorization: `Basic ${API_KEY}` }]) {
      for (const url of ['/api/ocean/status', '/api/ocean/users/1', '/metrics']) {
        const r = await h.app.inject({ method: 'GET', url, headers })
        assert.equal(r.statusCode, 401, `${url} ${JSON.stringify(headers)}`)
        assert.equal(r.json().error.code, 'OCEAN_E_UNAUTHORIZED')
      }
    }
  })
  it('leaves liveness and readiness open for load balancers', async () => {
    assert.deepEqual((await h.app.inject({ url: '/health' })).json(), { status: 'ok' })
    const ready = await h.app.inject({ url: '/ready' })
    assert.equal(ready.statusCode, 200)
    assert.deepEqual(Object.keys(ready.json().checks), ['redis', 'sqlite', 'duckdb'])
  })
  it('answers unknown routes with a JSON 404', async () => {
    const r = await h.api('GET', '/api/ocean/nope')
    assert.equal(r.statusCode, 404)
    assert.equal(r.json().error.code, 'OCEAN_E_ROUTE_NOT_FOUND')
  })
})

describe('users', () => {
  it('creates and reads a user; a taken username or email (any case) is 409', async () => {
    const id = await newUser('alice')
    const got = await h.api('GET', `/api/ocean/users/${id}`)
    assert.equal(got.statusCode, 200)
    assert.equal(got.json().username, 'alice')
    const dupName = await h.api('POST', '/api/ocean/users', { username: 'ALICE', email: 'other@example.com' })
    assert.equal(dupName.statusCode, 409)
    assert.equal(dupName.json().error.code, 'OCEAN_E_CONFLICT')
    const dupMail = await h.api('POST', '/api/ocean/users', { username: 'alice2', email: 'Alice@Example.com' })
    assert.equal(dupMail.statusCode, 409)
  })
  it('404 for a missing user, 400 for an id that is not a positive integer', async () => {
    assert.equal((await h.api('GET', '/api/ocean/users/999999')).json().error.code, 'OCEAN_E_NOT_FOUND')
    for (const bad of ['0', '-1', 'abc', '1.5', '1%27%20OR%201=1']) {
      const r = await h.api('GET', `/api/ocean/users/${bad}`)
      assert.equal(r.statusCode, 400, bad)
      assert.equal(r.json().error.code, 'OCEAN_E_VALIDATION')
    }
  })
})

describe('sessions', () => {
  it('creates, validates and revokes; tokens are random and stored only as a hash', async () => {
    const uid = await newUser('bob')
    const a = (await h.api('POST', '/api/ocean/sessions/create', { user_id: uid })).json()
    const b = (await h.api('POST', '/api/ocean/sessions/create', { user_id: uid, ttl_seconds: 120 })).json()
    assert.notEqual(a.token, b.token)
    assert.ok(Buffer.from(a.token, 'base64url').length >= 16, 'at least 128 bits')
    assert.ok(Date.parse(b.expires_at) - Date.now() <= 120_000)
    assert.deepEqual((await h.api('POST', '/api/ocean/sessions/validate', { token: a.token })).json(), { valid: true, user_id: uid, expires_at: a.expires_at })

    const db = new Database(path.join(h.dataDir, 'ocean.db'), { readonly: true })
    const rows = db.prepare('SELECT token_hash FROM sessions').all() as { token_hash: string }[]
    db.close()
    assert.ok(rows.length >= 2)
    assert.ok(rows.every((r) => r.token_hash !== a.token && r.token_hash.length === 64))
    const raw = fs.readFileSync(path.join(h.dataDir, 'ocean.db')).toString('latin1') + fs.readFileSync(path.join(h.dataDir, 'ocean.db-wal')).toString('latin1')
    assert.ok(!raw.includes(a.token), 'the token itself is nowhere in the database files')

    assert.deepEqual((await h.api('POST', '/api/ocean/sessions/revoke', { token: a.token })).json(), { revoked: true })
    assert.deepEqual((await h.api('POST', '/api/ocean/sessions/validate', { token: a.token })).json(), { valid: false })
    assert.deepEqual((await h.api('POST', '/api/ocean/sessions/revoke', { token: a.token })).json(), { revoked: false })
    assert.deepEqual((await h.api('POST', '/api/ocean/sessions/validate', { token: 'A'.repeat(43) })).json(), { valid: false })
  })
  it('refuses a session for a missing user and out-of-range TTLs', async () => {
    assert.equal((await h.api('POST', '/api/ocean/sessions/create', { user_id: 424242 })).statusCode, 404)
    assert.equal((await h.api('POST', '/api/ocean/sessions/create', { user_id: 1, ttl_seconds: 1 })).statusCode, 400)
  })
})

describe('billing', () => {
  it('adds and consumes credits; never below zero', async () => {
    const uid = await newUser('carol')
    assert.deepEqual((await h.api('GET', `/api/ocean/billing/${uid}`)).json(), { user_id: uid, credits: 0, usage: 0 })
    assert.equal((await h.api('POST', `/api/ocean/billing/${uid}/add-credits`, { credits: 100 })).json().credits, 100)
    const used = (await h.api('POST', `/api/ocean/billing/${uid}/consume`, { credits: 30 })).json()
    assert.deepEqual(used, { user_id: uid, credits: 70, usage: 30 })
    const over = await h.api('POST', `/api/ocean/billing/${uid}/consume`, { credits: 71 })
    assert.equal(over.statusCode, 402)
    assert.equal(over.json().error.code, 'OCEAN_E_INSUFFICIENT_CREDITS')
    assert.deepEqual((await h.api('GET', `/api/ocean/billing/${uid}`)).json(), { user_id: uid, credits: 70, usage: 30 })
  })
  it('applies a retried request with the same idempotency key once', async () => {
    const uid = await newUser('dave')
    const add = { credits: 50, idempotency_key: 'pay-123' }
    const first = (await h.api('POST', `/api/ocean/billing/${uid}/add-credits`, add)).json()
    const again = (await h.api('POST', `/api/ocean/billing/${uid}/add-credits`, add)).json()
    assert.deepEqual(again, first)
    assert.equal((await h.api('GET', `/api/ocean/billing/${uid}`)).json().credits, 50)
    const consume = { credits: 20, idempotency_key: 'use-1' }
    await h.api('POST', `/api/ocean/billing/${uid}/consume`, consume)
    await h.api('POST', `/api/ocean/billing/${uid}/consume`, consume)
    assert.equal((await h.api('GET', `/api/ocean/billing/${uid}`)).json().credits, 30)
    const conflict = await h.api('POST', `/api/ocean/billing/${uid}/consume`, { credits: 5, idempotency_key: 'use-1' })
    assert.equal(conflict.statusCode, 409)
    assert.equal(conflict.json().error.code, 'OCEAN_E_IDEMPOTENCY_CONFLICT')
  })
  it('concurrent consumption never overdraws', async () => {
    const uid = await newUser('erin')
    await h.api('POST', `/api/ocean/billing/${uid}/add-credits`, { credits: 10 })
    const results = await Promise.all(Array.from({ length: 25 }, () => h.api('POST', `/api/ocean/billing/${uid}/consume`, { credits: 1 })))
    assert.equal(results.filter((r) => r.statusCode === 200).length, 10)
    assert.equal(results.filter((r) => r.statusCode === 402).length, 15)
    assert.deepEqual((await h.api('GET', `/api/ocean/billing/${uid}`)).json(), { user_id: uid, credits: 0, usage: 10 })
  })
  it('rejects zero, negative, fractional and string amounts, and unknown users', async () => {
    for (const credits of [0, -5, 1.5, '10', null]) {
      assert.equal((await h.api('POST', '/api/ocean/billing/1/add-credits', { credits })).statusCode, 400, String(credits))
    }
    assert.equal((await h.api('POST', '/api/ocean/billing/98765/add-credits', { credits: 1 })).statusCode, 404)
  })
})

describe('profiles and metadata', () => {
  it('stores and reads back JSON documents, and overwrites on a second store', async () => {
    const uid = await newUser('frank')
    const profile = { theme: 'dark', langs: ['de', 'sq'], nested: { ok: true }, emoji: '🌊' }
    assert.equal((await h.api('POST', '/api/ocean/profiles/store', { id: 'p-1', user_id: uid, profile })).statusCode, 201)
    assert.deepEqual((await h.api('GET', '/api/ocean/profiles/p-1')).json().profile, profile)
    await h.api('POST', '/api/ocean/profiles/store', { id: 'p-1', profile: { v: 2 } })
    const got = (await h.api('GET', '/api/ocean/profiles/p-1')).json()
    assert.deepEqual([got.profile, got.user_id], [{ v: 2 }, null])
    assert.equal((await h.api('GET', '/api/ocean/profiles/none')).statusCode, 404)
    assert.equal((await h.api('POST', '/api/ocean/profiles/store', { id: 'p-2', user_id: 777777, profile: {} })).statusCode, 404)

    for (const value of [42, 'text', [1, 2], { a: null }, null]) {
      assert.equal((await h.api('POST', '/api/ocean/metadata/cfg.version', { value })).statusCode, 200)
      assert.deepEqual((await h.api('GET', '/api/ocean/metadata/cfg.version')).json().value, value)
    }
    assert.equal((await h.api('GET', '/api/ocean/metadata/missing')).statusCode, 404)
    assert.equal((await h.api('POST', '/api/ocean/metadata/bad%09key', { value: 1 })).statusCode, 400)
  })
})

describe('status and metrics', () => {
  it('reports versions, counts, engine and buffer state', async () => {
    const s = (await h.api('GET', '/api/ocean/status')).json()
    assert.equal(s.service, 'ocean')
    assert.match(s.versions.redis, /^\d+\.\d+/)
    assert.match(s.versions.sqlite, /^3\./)
    assert.ok(s.counts.users >= 1)
    assert.equal(typeof s.telemetry.rows, 'number')
    assert.equal(typeof s.buffer.lag_entries, 'number')
  })
  it('exposes Prometheus metrics, including request durations by route', async () => {
    await h.api('GET', '/api/ocean/users/1')
    const r = await h.api('GET', '/metrics')
    assert.equal(r.statusCode, 200)
    assert.match(r.headers['content-type'] as string, /text\/plain/)
    assert.match(r.body, /ocean_request_duration_seconds_count\{method="GET",route="\/api\/ocean\/users\/:id",status="200"\} \d+/)
    assert.match(r.body, /ocean_buffer_backlog_events \d+/)
    assert.match(r.body, /ocean_memory_usage_bytes \d+/)
  })
})
