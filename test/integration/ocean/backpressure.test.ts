// Backpressure on ingest: while the unstored backlog is over OCEAN_BACKLOG_MAX_EVENTS (or its age
// over OCEAN_BACKLOG_MAX_SECONDS) ingest answers 429 with Retry-After and adds nothing to Redis;
// /ready stays 200 and says so; the metrics count refusals. Once the worker has stored the backlog
// below the resume mark, ingest is accepted again, and every event answered 202 is stored once.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { startRedis, type RedisServer } from '../../../scripts/lib/loopback-servers.ts'
import { BacklogGate } from '../../../services/ocean/src/buffer/backlog-gate.ts'
import { bufferNames } from '../../../services/ocean/src/buffer/redis-buffer.ts'
import { API_KEY, startOcean, type Harness } from '../../helpers/ocean-harness.ts'
import { childRoles, spawnOcean, type OceanProcess } from '../../helpers/ocean-process.ts'
import { storedValues } from '../../helpers/stored-telemetry.ts'
import { metricValue } from '../../helpers/metrics-text.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const value = metricValue

/** Polls until `ok` (or fails after timeoutMs). */
async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`)
    await sleep(50)
  }
}

describe('backpressure, one process (the backlog counted up by hand)', () => {
  let h: Harness
  let r: Redis
  const names = bufferNames('ocean:telemetry', 'ocean-worker')
  before(async () => {
    h = await startOcean({ OCEAN_BACKLOG_MAX_EVENTS: '500', OCEAN_BACKLOG_MAX_SECONDS: '0' })
    r = new Redis(h.redis.url)
  })
  after(async () => {
    r?.disconnect()
    await h?.close()
  })
  const ingest = (value: number, key?: string) =>
    h.app.inject({
      method: 'POST',
      url: '/api/ocean/telemetry/ingest',
      headers: { authorization: `Bearer ${API_KEY}`, ...(key ? { 'idempotency-key': key } : {}) },
      payload: { sensor_id: 'bp-1', value },
    })

  it('refuses with 429, Retry-After and the code, adds nothing, and says so on /ready and in the metrics; resumes below 90 %', async () => {
    assert.equal((await ingest(1)).statusCode, 202)
    await h.waitForRows(1)
    // 1000 events accepted and not stored, as a stopped worker would leave them.
    await r.incrby(names.accepted, 1000)
    const readyBacklog = async () => (await h.app.inject({ method: 'GET', url: '/ready' })).json<{ backlog: { status: string } }>().backlog.status
    await until('the view is refreshed', async () => (await readyBacklog()) === 'over bound', 2000)
    const xlen = await r.xlen(names.stream)
    const refused = [await ingest(3), await ingest(4, 'bp-key-1'), await h.api('POST', '/api/ocean/telemetry/batch', { events: [{ sensor_id: 'bp-1', value: 5 }] })]
    for (const res of refused) {
      assert.equal(res.statusCode, 429)
      const retry = Number(res.headers['retry-after'])
      assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 30, `Retry-After ${res.headers['retry-after']}`)
      const body = res.json<{ error: { code: string; message: string } }>()
      assert.equal(body.error.code, 'OCEAN_E_BACKLOG_FULL')
      assert.match(body.error.message, new RegExp(`retry after ${retry} s`))
    }
    assert.equal(await r.xlen(names.stream), xlen, 'a refused request adds nothing to the stream')

    const ready = await h.app.inject({ method: 'GET', url: '/ready' })
    assert.equal(ready.statusCode, 200, 'shedding load is not unready')
    const backlog = ready.json<{ backlog: { status: string; events: number; max_events: number } }>().backlog
    assert.equal(backlog.status, 'over bound')
    assert.equal(backlog.events, 1000)
    assert.equal(backlog.max_events, 500)

    const text = (await h.api('GET', '/metrics')).body
    assert.equal(value(text, 'ocean_ingest_refused_total', { reason: 'events' }), 3)
    assert.equal(value(text, 'ocean_ingest_backpressure'), 1)
    assert.equal(value(text, 'ocean_errors_total', { code: 'OCEAN_E_BACKLOG_FULL', status: '429' }), 3)

    // 470 unstored: under the bound but above the resume mark (450): still refusing.
    await r.incrby(names.processed, 530)
    await sleep(700)
    assert.equal((await ingest(6)).statusCode, 429)
    // 440: below the resume mark. The key refused before is accepted now, and once.
    await r.incrby(names.processed, 30)
    await until('ingest is accepted again', async () => (await ingest(7, 'bp-key-1')).statusCode === 202)
    const replay = await ingest(7, 'bp-key-1')
    assert.equal(replay.statusCode, 202)
    assert.equal(replay.headers['idempotent-replayed'], 'true')
    await r.incrby(names.processed, 440) // the hand-made backlog is gone
    await h.waitForRows(2)
    await sleep(300)
    assert.equal(await h.engine.store.totalRows(), 2, 'the event first refused then accepted is stored once')
    assert.equal(await readyBacklog(), 'within bound')
    assert.equal(value((await h.api('GET', '/metrics')).body, 'ocean_ingest_backpressure'), 0)
  })
})

describe('backpressure: the view between refreshes, and the age bound', () => {
  let redis: RedisServer
  let r: Redis
  before(async () => {
    redis = await startRedis()
    r = new Redis(redis.url)
  })
  after(async () => {
    r?.disconnect()
    await redis?.stop()
  })
  it("counts the accepted total an addition returns at once, without waiting for the next refresh", async () => {
    const names = bufferNames('count:telemetry', 'count-group')
    const gate = new BacklogGate(r, names, { maxEvents: 100, maxSeconds: 0 })
    await r.set(names.accepted, 40)
    await gate.refresh()
    assert.equal(gate.view().events, 40)
    gate.accepted(99)
    assert.equal(gate.reason, null)
    await r.set(names.accepted, 100) // what the addition that returned 100 did
    gate.accepted(100)
    assert.equal(gate.reason, 'events', 'at the bound: refused before the next refresh')
    await r.set(names.processed, 5)
    await gate.refresh()
    assert.equal(gate.reason, 'events', '95 unstored: above the resume mark (90)')
    await r.set(names.processed, 15)
    await gate.refresh()
    assert.equal(gate.reason, null, '85 unstored: resumed')
  })

  it('refuses while the oldest unstored event (pending or undelivered) is older than the bound', async () => {
    const names = bufferNames('age:telemetry', 'age-group')
    const gate = new BacklogGate(r, names, { maxEvents: 0, maxSeconds: 1 })
    await gate.refresh()
    assert.equal(gate.reason, null, 'no stream yet: nothing unstored')
    await r.xgroup('CREATE', names.stream, names.group, '0', 'MKSTREAM')
    await r.xadd(names.stream, '*', 'e', '[]')
    await r.incrby(names.accepted, 1)
    await gate.refresh()
    assert.equal(gate.reason, null)
    await sleep(1100)
    await gate.refresh()
    assert.equal(gate.reason, 'age', 'undelivered and older than 1 s')
    assert.equal(gate.view().status, 'over bound')
    // Delivered, not acknowledged: still unstored.
    await r.xreadgroup('GROUP', names.group, 'c', 'COUNT', 10, 'STREAMS', names.stream, '>')
    await gate.refresh()
    assert.equal(gate.reason, 'age', 'pending and older than 1 s')
    const [entry] = (await r.xrange(names.stream, '-', '+')) as [string, string[]][]
    assert.ok(entry)
    await r.xack(names.stream, names.group, entry[0])
    await r.incrby(names.processed, 1)
    await gate.refresh()
    assert.equal(gate.reason, null, 'stored: nothing unstored')
  })
})

describe('backpressure, the service as the image runs it, its engine stopped', () => {
  let redis: RedisServer
  let ocean: OceanProcess
  let dataDir: string
  let r: Redis | undefined
  const STREAM = 'bp:multi'
  before(async () => {
    redis = await startRedis()
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-bp-'))
    ocean = await spawnOcean({
      OCEAN_API_KEY: API_KEY,
      REDIS_URL: redis.url,
      OCEAN_DATA_DIR: dataDir,
      OCEAN_API_PROCESSES: '2',
      OCEAN_STREAM: STREAM,
      OCEAN_BACKLOG_MAX_EVENTS: '500',
      OCEAN_BACKLOG_MAX_SECONDS: '0',
    })
    await ocean.ready()
  })
  after(async () => {
    r?.disconnect()
    await ocean?.stop()
    await redis?.stop()
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
  })

  /** A request on a connection of its own, so the cluster spreads them over the API processes. */
  function request(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body)
      const req = http.request(
        `${ocean.base}${url}`,
        { method, agent: false, headers: { authorization: `Bearer ${API_KEY}`, ...(payload ? { 'content-type': 'application/json' } : {}), ...headers } },
        (res) => {
          let text = ''
          res
            .setEncoding('utf8')
            .on('data', (c: string) => (text += c))
            .on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }))
        },
      )
      req.on('error', reject)
      req.end(payload)
    })
  }

  it('refuses once over the bound, adds nothing while refusing, resumes after the drain, and stores every 202 once and no 429', async () => {
    const accepted: number[] = []
    const refusedValues: number[] = []
    let next = 0
    /** A batch of 50 events with values never sent before; records what it was answered. */
    const batch = async (headers: Record<string, string> = {}, values = Array.from({ length: 50 }, () => next++)) => {
      const res = await request('POST', '/api/ocean/telemetry/batch', { events: values.map((v) => ({ sensor_id: 'bp-multi', value: v })) }, headers)
      assert.ok(res.status === 202 || res.status === 429, `${res.status} ${res.text}`)
      ;(res.status === 202 ? accepted : refusedValues).push(...values)
      return { ...res, values }
    }
    const engine = childRoles(ocean.child.pid as number).find((c) => c.role === 'engine')
    assert.ok(engine)
    r = new Redis(redis.url)
    process.kill(engine.pid, 'SIGSTOP')
    let keyed: { values: number[]; status: number } | undefined
    try {
      // Ingest until refused: 500 events, then what arrives within one refresh of each API process.
      for (let i = 0; i < 200 && refusedValues.length === 0; i++) await batch()
      assert.ok(refusedValues.length > 0, 'refused at some point')
      assert.ok(accepted.length >= 500 && accepted.length <= 5000, `${accepted.length} accepted before refusing`)
      await sleep(600) // both API processes have seen the backlog
      const xlen = await r.xlen(STREAM)
      for (let i = 0; i < 10; i++) {
        const res = await batch()
        assert.equal(res.status, 429)
        assert.match(res.text, /OCEAN_E_BACKLOG_FULL/)
        assert.equal(res.headers['retry-after'], '30', 'nothing stored lately: the longest wait')
      }
      keyed = await batch({ 'idempotency-key': 'bp-multi-key' })
      assert.equal(keyed.status, 429)
      assert.equal(await r.xlen(STREAM), xlen, 'refused requests add nothing to Redis')
      const ready = await request('GET', '/ready')
      assert.equal(JSON.parse(ready.text).backlog.status, 'over bound') // (503 here: the stopped engine does not answer its DuckDB check)
      const metrics = (await request('GET', '/metrics')).text
      assert.equal(value(metrics, 'ocean_ingest_refused_total', { reason: 'events' }), refusedValues.length / 50, 'summed over the API processes')
      assert.equal(value(metrics, 'ocean_ingest_backpressure'), 1, 'max over the processes, not a sum')
    } finally {
      process.kill(engine.pid, 'SIGCONT')
    }
    // The worker stores the backlog; ingest is accepted again below the resume mark.
    await until('ingest accepted again', async () => (await batch()).status === 202, 20_000)
    // The refused keyed batch, sent again as a client would until accepted (each API process
    // refreshes its own view), then once more: a replay that adds nothing.
    const keyedBody = { events: keyed.values.map((v) => ({ sensor_id: 'bp-multi', value: v })) }
    const sendKeyed = () => request('POST', '/api/ocean/telemetry/batch', keyedBody, { 'idempotency-key': 'bp-multi-key' })
    await until('the refused key is accepted', async () => (await sendKeyed()).status === 202, 5000)
    accepted.push(...keyed.values)
    // The other API process may not have refreshed its view yet (it answers 429 until it does): retried like the first.
    let replay: Awaited<ReturnType<typeof sendKeyed>> | undefined
    await until('the replay is answered', async () => (replay = await sendKeyed()).status === 202, 5000)
    assert.equal(replay?.headers['idempotent-replayed'], 'true')
    await until('everything accepted is stored', async () => JSON.parse((await request('GET', '/api/ocean/telemetry/unprocessed')).text).events === 0, 20_000)
    assert.equal(await ocean.stop(), 0)

    const stored = await storedValues(dataDir, 'bp-multi')
    const keyedSet = new Set(keyed.values)
    const refusedOnly = refusedValues.filter((v) => !keyedSet.has(v))
    assert.equal(stored.length, accepted.length, 'every 202 stored, once')
    assert.deepEqual(
      [...stored].sort((a, b) => a - b),
      [...accepted].sort((a, b) => a - b),
    )
    const storedSet = new Set(stored)
    assert.equal(refusedOnly.filter((v) => storedSet.has(v)).length, 0, 'nothing answered 429 (and not sent again) is stored')
  })
})
