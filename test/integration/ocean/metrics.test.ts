// /metrics as the README's catalog promises it: every name with its type, errors counted with their
// code, the pipeline's counters moving by what was sent; and in multi-process mode, one scrape of
// any API process adding up every API process and the engine.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { startRedis, type RedisServer } from '../../../scripts/lib/loopback-servers.ts'
import { API_KEY, startOcean, type Harness } from '../../helpers/ocean-harness.ts'
import { childRoles, spawnOcean, type OceanProcess } from '../../helpers/ocean-process.ts'
import { ROLE_HEAP_FLAGS } from '../../../services/ocean/src/role-flags.ts'
import { RUNTIME_ENV } from '../../../services/ocean/runtime.ts'
import { metricValue } from '../../helpers/metrics-text.ts'

const CATALOG: [string, 'counter' | 'gauge' | 'histogram'][] = [
  ['ocean_requests_total', 'counter'],
  ['ocean_request_duration_seconds', 'histogram'],
  ['ocean_errors_total', 'counter'],
  ['ocean_telemetry_ingested_total', 'counter'],
  ['ocean_ingest_refused_total', 'counter'],
  ['ocean_ingest_backpressure', 'gauge'],
  ['ocean_telemetry_stored_total', 'counter'],
  ['ocean_telemetry_store_failures_total', 'counter'],
  ['ocean_dead_letter_entries_total', 'counter'],
  ['ocean_dead_letter_entries', 'gauge'],
  ['ocean_queries_processed_total', 'counter'],
  ['ocean_database_query_duration_seconds', 'histogram'],
  ['ocean_database_errors_total', 'counter'],
  ['ocean_cpu_usage_percent', 'gauge'],
  ['ocean_memory_usage_bytes', 'gauge'],
  ['ocean_buffer_backlog_events', 'gauge'],
  ['ocean_buffer_oldest_unstored_age_seconds', 'gauge'],
  ['ocean_info', 'gauge'],
  ['ocean_metrics_processes_missing', 'gauge'],
]

const value = metricValue

const orZero = (n: number) => (Number.isNaN(n) ? 0 : n)

/** Polls `read` until it reaches `want` (or the deadline), and returns what it read last. */
async function settle(read: () => Promise<number>, want: number, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let v = await read()
  while (v < want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50))
    v = await read()
  }
  return v
}

describe('metrics, one process', () => {
  let h: Harness
  before(async () => {
    h = await startOcean({ OCEAN_ENTRY_EVENTS: '100' })
  })
  after(async () => {
    await h?.close()
  })
  const scrape = async () => (await h.api('GET', '/metrics')).body

  it('has every catalog name, with its type, and no default-metrics duplicates', async () => {
    const text = await scrape()
    for (const [name, type] of CATALOG) assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), name)
    assert.doesNotMatch(text, /^ocean_process_|^ocean_nodejs_/m)
    assert.equal(value(text, 'ocean_info', { version: h.config.version }), 1)
    assert.ok(value(text, 'ocean_memory_usage_bytes') > 10e6)
    assert.ok(value(text, 'ocean_cpu_usage_percent') >= 0)
  })

  it('counts each request, and an error answer with its code', async () => {
    const route = '/api/ocean/users/:id'
    const before = await scrape()
    const denied = await h.app.inject({ method: 'GET', url: '/api/ocean/users/1' })
    assert.equal(denied.statusCode, 401)
    const invalid = await h.api('POST', '/api/ocean/telemetry/ingest', { sensor: 'no-id' })
    assert.equal(invalid.statusCode, 400)
    // Refused before routing (Fastify runs no hooks for it): counted all the same.
    assert.equal((await h.api('GET', '/api/ocean/users/%E0%A4%A')).statusCode, 400)
    const text = await scrape()
    const delta = (name: string, labels: Record<string, string>) => orZero(value(text, name, labels)) - orZero(value(before, name, labels))
    assert.equal(delta('ocean_errors_total', { route, status: '401', code: 'OCEAN_E_UNAUTHORIZED' }), 1)
    assert.equal(delta('ocean_errors_total', { route: '/api/ocean/telemetry/ingest', status: '400', code: 'OCEAN_E_VALIDATION' }), 1)
    assert.equal(delta('ocean_errors_total', { status: '400', code: 'OCEAN_E_BAD_URL' }), 1)
    assert.equal(delta('ocean_requests_total', { method: 'GET', route, status: '401' }), 1)
    assert.equal(delta('ocean_request_duration_seconds_count', { method: 'GET', route, status: '401' }), 1)
  })

  it('ingested and stored move by the events sent; the oldest-unstored age is 0 once stored', async () => {
    const before = await scrape()
    const events = Array.from({ length: 250 }, (_, i) => ({ sensor_id: 'metrics-1', value: i }))
    assert.equal((await h.api('POST', '/api/ocean/telemetry/batch', { events })).statusCode, 202)
    for (let i = 0; i < 3; i++) assert.equal((await h.api('POST', '/api/ocean/telemetry/ingest', { sensor_id: 'metrics-1', value: i })).statusCode, 202)
    const base = (name: string) => orZero(value(before, name))
    const stored = await settle(async () => value(await scrape(), 'ocean_telemetry_stored_total') - base('ocean_telemetry_stored_total'), 253)
    assert.equal(stored, 253)
    const text = await scrape()
    assert.equal(value(text, 'ocean_telemetry_ingested_total') - base('ocean_telemetry_ingested_total'), 253)
    assert.equal(value(text, 'ocean_buffer_oldest_unstored_age_seconds'), 0)
    assert.equal(value(text, 'ocean_buffer_backlog_events'), 0)
    assert.ok(value(text, 'ocean_database_query_duration_seconds_count', { db: 'duckdb', op: 'append' }) >= 1)
  })

  it('the oldest-unstored age grows while an accepted entry waits, by the Redis clock', async () => {
    const redis = new Redis(h.redis.url)
    const { stream, group } = h.config
    let id: string | undefined
    try {
      // Added and taken by another consumer in one transaction: the worker never sees it.
      const r = (await redis.multi().xadd(stream, '*', 'e', '[]').xreadgroup('GROUP', group, 'metrics-test', 'COUNT', 1, 'STREAMS', stream, '>').exec()) ?? []
      id = r[0]?.[1] as string
      await new Promise((res) => setTimeout(res, 1200))
      const age = value(await scrape(), 'ocean_buffer_oldest_unstored_age_seconds')
      assert.ok(age >= 1 && age < 10, `age ${age} s`)
    } finally {
      if (id) await redis.multi().xack(stream, group, id).xdel(stream, id).exec()
      redis.disconnect()
    }
    assert.equal(value(await scrape(), 'ocean_buffer_oldest_unstored_age_seconds'), 0)
  })

  it('counts each analytics query once, by type', async () => {
    const before = await scrape()
    assert.equal((await h.api('GET', '/api/ocean/analytics/sensor/metrics-1/stats')).statusCode, 200)
    assert.equal((await h.api('GET', '/api/ocean/analytics/sensor/metrics-1/timeseries')).statusCode, 200)
    assert.equal((await h.api('GET', '/api/ocean/analytics/sensor/metrics-1/timeseries')).statusCode, 200)
    const text = await scrape()
    const delta = (type: string) => orZero(value(text, 'ocean_queries_processed_total', { type })) - orZero(value(before, 'ocean_queries_processed_total', { type }))
    assert.deepEqual([delta('stats'), delta('timeseries'), delta('compare')], [1, 2, 0])
  })
})

describe('metrics, several processes: one scrape adds them all up', () => {
  const KEY = API_KEY
  let redis: RedisServer
  let ocean: OceanProcess
  let dataDir: string
  const STREAM = 'metrics:multi'
  before(async () => {
    redis = await startRedis()
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-metrics-'))
    ocean = await spawnOcean({ OCEAN_API_KEY: KEY, REDIS_URL: redis.url, OCEAN_DATA_DIR: dataDir, OCEAN_API_PROCESSES: '3', OCEAN_STREAM: STREAM })
    await ocean.ready()
  })
  after(async () => {
    await ocean?.stop()
    await redis?.stop()
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
  })

  /** A request on a connection of its own, so the cluster spreads them over the API processes. */
  function request(method: string, url: string, body?: unknown): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body)
      const req = http.request(`${ocean.base}${url}`, { method, agent: false, headers: { authorization: `Bearer ${KEY}`, ...(payload ? { 'content-type': 'application/json' } : {}) } }, (res) => {
        let text = ''
        res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      })
      req.on('error', reject)
      req.end(payload)
    })
  }
  const scrape = async () => {
    const r = await request('GET', '/metrics')
    assert.equal(r.status, 200)
    return r.text
  }

  it('counts every API process and the engine', async () => {
    const K = 120
    let next = 0
    const client = async () => {
      while (next < K) {
        const r = await request('POST', '/api/ocean/telemetry/ingest', { sensor_id: 'multi-1', value: next++ })
        assert.equal(r.status, 202)
      }
    }
    await Promise.all(Array.from({ length: 8 }, client))
    const stored = await settle(async () => orZero(value(await scrape(), 'ocean_telemetry_stored_total')), K)
    assert.equal(stored, K, "the engine's stored count is in the scrape")
    const text = await scrape()
    assert.equal(value(text, 'ocean_telemetry_ingested_total'), K, 'every API process counted')
    assert.equal(value(text, 'ocean_requests_total', { route: '/api/ocean/telemetry/ingest' }), K)
    assert.equal(value(text, 'ocean_request_duration_seconds_count', { route: '/api/ocean/telemetry/ingest' }), K)
    assert.equal(value(text, 'ocean_metrics_processes_missing'), 0)
    assert.equal(value(text, 'ocean_info'), 1, 'the version is not summed')
    assert.equal(value(text, 'ocean_buffer_backlog_events'), 0)

    // Memory: every process's RSS (supervisor, engine, API processes), read just after the scrape.
    const pids = [ocean.child.pid as number, ...childRoles(ocean.child.pid as number).map((c) => c.pid)]
    assert.equal(pids.length, 5, 'supervisor, engine and 3 API processes')
    const rss = pids.map((pid) => Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024)
    const memory = value(await scrape(), 'ocean_memory_usage_bytes')
    const sum = rss.reduce((a, b) => a + b, 0)
    assert.ok(memory > Math.max(...rss), `${memory} > the largest process's ${Math.max(...rss)}`)
    assert.ok(Math.abs(memory - sum) < 0.2 * sum, `${memory} within 20 % of the processes' ${sum}`)
  })

  it('each process loads only its role: the supervisor no database library, forked roles their heap flags', () => {
    const maps = (pid: number) => fs.readFileSync(`/proc/${pid}/maps`, 'utf8')
    const argv = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    const supervisor = ocean.child.pid as number
    const children = childRoles(supervisor)
    const api = children.filter((c) => c.role === 'api')
    const engine = children.find((c) => c.role === 'engine')
    assert.equal(api.length, 3)
    assert.ok(engine, 'an engine process')
    // The supervisor forks and counts: no SQLite, no DuckDB (they come with the HTTP stack and the stores).
    assert.doesNotMatch(maps(supervisor), /better_sqlite3\.node|libduckdb|duckdb\.node/)
    for (const a of api) {
      assert.match(maps(a.pid), /better_sqlite3\.node/, 'an API process opens SQLite')
      assert.doesNotMatch(maps(a.pid), /duckdb/, 'an API process does not load DuckDB')
      for (const f of ROLE_HEAP_FLAGS.api) assert.ok(argv(a.pid).includes(f), `API process runs with ${f}: ${argv(a.pid).join(' ')}`)
    }
    assert.match(maps(engine.pid), /duckdb/, 'the engine loads DuckDB')
    for (const f of ROLE_HEAP_FLAGS.engine) assert.ok(argv(engine.pid).includes(f), `the engine runs with ${f}`)
    // DuckDB's allocator options (runtime.ts) reach the process that loads DuckDB.
    const environ = fs.readFileSync(`/proc/${engine.pid}/environ`, 'utf8').split('\0')
    for (const [k, v] of Object.entries(RUNTIME_ENV)) assert.ok(environ.includes(`${k}=${v}`), `the engine runs with ${k}=${v}`)
  })

  it('a global gauge is reported once, not once per process', async () => {
    const r = new Redis(redis.url)
    try {
      await r.xadd(`${STREAM}:dead`, '*', 'source_id', '0-1', 'reason', 'test')
    } finally {
      r.disconnect()
    }
    assert.equal(value(await scrape(), 'ocean_dead_letter_entries'), 1)
  })

  it('answers without a process that does not answer, and says so', async () => {
    const engine = childRoles(ocean.child.pid as number).find((c) => c.role === 'engine')
    assert.ok(engine)
    process.kill(engine.pid, 'SIGSTOP')
    try {
      const t0 = performance.now()
      const text = await scrape()
      const ms = performance.now() - t0
      assert.ok(ms >= 1900 && ms < 4000, `answered after ${ms.toFixed(0)} ms`)
      assert.equal(value(text, 'ocean_metrics_processes_missing'), 1)
      assert.equal(value(text, 'ocean_telemetry_stored_total'), 0, "the engine's count is missing")
      assert.ok(Number.isNaN(value(text, 'ocean_buffer_backlog_events')), 'the global gauges come from the engine only')
    } finally {
      process.kill(engine.pid, 'SIGCONT')
    }
    assert.equal(value(await scrape(), 'ocean_metrics_processes_missing'), 0)
  })
})
