// The ingestion path end to end: HTTP -> Redis stream -> worker -> DuckDB -> analytics, with
// compaction, the dead-letter stream, trimming, and Redis going away.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import { startOcean, type Harness } from '../../helpers/ocean-harness.ts'

let h: Harness
const T0 = Date.parse('2026-01-05T00:00:00Z')

before(async () => {
  // Small hot table so the test crosses sealing and merging.
  h = await startOcean({ OCEAN_HOT_MAX_ROWS: '1000', OCEAN_HOT_MAX_AGE_MS: '200', OCEAN_MAX_PAST_DAYS: '36500', OCEAN_ENTRY_EVENTS: '250' })
})
after(async () => {
  await h?.close()
})

describe('ingest to analytics', () => {
  it('a single event and a batch are answered 202 with their buffer ids and become queryable', async () => {
    const one = await h.api('POST', '/api/ocean/telemetry/ingest', { sensor_id: 'pump-1', value: 10, timestamp: T0 })
    assert.equal(one.statusCode, 202)
    assert.match(one.json().id, /^\d+-\d+$/)
    const events = Array.from({ length: 600 }, (_, i) => ({ sensor_id: 'pump-1', value: i + 1, timestamp: new Date(T0 + (i + 1) * 1000).toISOString() }))
    const batch = await h.api('POST', '/api/ocean/telemetry/batch', { events })
    assert.equal(batch.statusCode, 202)
    assert.equal(batch.json().accepted, 600)
    assert.equal(batch.json().ids.length, 3, '600 events in entries of 250')
    await h.waitForRows(601)
    const s = (await h.api('GET', '/api/ocean/analytics/sensor/pump-1/stats')).json()
    assert.equal(s.count, 601)
    assert.equal(s.min, 1)
    assert.equal(s.max, 600)
    assert.equal(s.avg, (10 + (600 * 601) / 2) / 601)
    assert.equal(s.p50, 300)
    const win = (await h.api('GET', `/api/ocean/analytics/sensor/pump-1/stats?from=${T0 + 100_000}&to=2026-01-05T00:03:20Z`)).json()
    assert.deepEqual([win.count, win.min, win.max], [100, 100, 199])
  })
  it('timeseries buckets by the requested width; readings in data are metrics too', async () => {
    const events = Array.from({ length: 120 }, (_, i) => ({ sensor_id: 'tank', timestamp: T0 + i * 30_000, data: i % 2 ? `{"level": ${i}}` : { level: i } }))
    assert.equal((await h.api('POST', '/api/ocean/telemetry/batch', { events })).statusCode, 202)
    await h.waitForRows(721)
    const ts = (await h.api('GET', '/api/ocean/analytics/sensor/tank/timeseries?bucket=15m&metric=level')).json()
    assert.deepEqual(ts.points.map((p: { count: number }) => p.count), [30, 30, 30, 30])
    assert.equal(ts.points[0].t, '2026-01-05T00:00:00.000Z')
    assert.deepEqual([ts.points[1].min, ts.points[1].max, ts.points[1].avg], [30, 59, 44.5])
    const none = (await h.api('GET', '/api/ocean/analytics/sensor/tank/timeseries?bucket=1h')).json()
    assert.deepEqual(none.points.map((p: { count: number }) => p.count), [0], 'no `value` on these events: counted as 0 values')
  })
  it('anomalies flags a spike against the window before it', async () => {
    const events = Array.from({ length: 200 }, (_, i) => ({ sensor_id: 'vib', timestamp: T0 + i * 1000, value: i === 150 ? 500 : 10 + (i % 5) }))
    await h.api('POST', '/api/ocean/telemetry/batch', { events })
    await h.waitForRows(921)
    const a = (await h.api('GET', '/api/ocean/analytics/sensor/vib/anomalies?window=30&threshold=4')).json()
    assert.equal(a.anomalies.length, 1)
    assert.equal(a.anomalies[0].value, 500)
    assert.equal(a.anomalies[0].t, new Date(T0 + 150_000).toISOString())
    assert.ok(a.anomalies[0].z > 4)
  })
  it('compare returns each sensor on the same buckets', async () => {
    const r = (await h.api('POST', '/api/ocean/analytics/compare', { sensor_ids: ['pump-1', 'vib', 'ghost'], bucket: '1h' })).json()
    assert.deepEqual(r.series.map((s: { sensor_id: string }) => s.sensor_id), ['pump-1', 'vib', 'ghost'])
    assert.equal(r.series[0].points[0].count, 601)
    assert.equal(r.series[1].points[0].count, 200)
    assert.deepEqual(r.series[2].points, [])
  })
  it('exports csv, json and parquet, streamed, with the same rows', async () => {
    const csv = await h.api('GET', '/api/ocean/analytics/export?format=csv&sensor_id=vib')
    assert.equal(csv.statusCode, 200)
    assert.match(csv.headers['content-type'] as string, /text\/csv/)
    const lines = csv.body.trim().split('\n')
    assert.equal(lines[0], 'sensor_id,timestamp,value,data')
    assert.equal(lines.length, 201)
    assert.equal(lines[1], `vib,${new Date(T0).toISOString()},10.0,`)
    const json = (await h.api('GET', '/api/ocean/analytics/export?format=json&sensor_id=vib&limit=5')).json()
    assert.equal(json.length, 5)
    assert.deepEqual(json[0], { sensor_id: 'vib', timestamp: new Date(T0).toISOString(), value: 10, data: null })
    const parquet = await h.api('GET', '/api/ocean/analytics/export?format=parquet')
    assert.equal(parquet.rawPayload.subarray(0, 4).toString(), 'PAR1')
    const file = `${h.dataDir}/check.parquet`
    const { writeFileSync } = await import('node:fs')
    writeFileSync(file, parquet.rawPayload)
    const db = await DuckDBInstance.create(':memory:')
    const c = await db.connect()
    const rows = (await c.runAndReadAll(`SELECT count(*)::INT AS n FROM read_parquet('${file}')`)).getRowObjects()
    assert.equal(rows[0]?.n, await h.engine.store.totalRows())
    c.closeSync()
    db.closeSync()
  })
})

describe('storage', () => {
  it('compaction seals and merges partitions without losing or changing a row', async () => {
    const before = (await h.api('GET', '/api/ocean/analytics/sensor/pump-1/timeseries?bucket=1m')).json()
    // Asked before the rows exist: the same (prepared) query must see the partitions compaction makes.
    assert.equal((await h.api('GET', '/api/ocean/analytics/sensor/bulk-3/stats')).json().count, 0)
    for (let round = 0; round < 6; round++) {
      const events = Array.from({ length: 900 }, (_, i) => ({ sensor_id: `bulk-${i % 7}`, timestamp: T0 + round * 900 + i, value: i }))
      await h.api('POST', '/api/ocean/telemetry/batch', { events })
      await h.waitForRows(921 + (round + 1) * 900)
      await new Promise((r) => setTimeout(r, 250))
    }
    const info = h.engine.store.stats()
    assert.ok(info.partitions >= 1, `partitions: ${info.partitions}`)
    assert.equal(await h.engine.store.totalRows(), 921 + 5400)
    const after = (await h.api('GET', '/api/ocean/analytics/sensor/pump-1/timeseries?bucket=1m')).json()
    assert.deepEqual(after, before)
    const bulk = (await h.api('GET', '/api/ocean/analytics/sensor/bulk-3/stats')).json()
    assert.equal(bulk.count, Array.from({ length: 900 }, (_, i) => i).filter((i) => i % 7 === 3).length * 6)
  })
  it('the stream is trimmed once entries are stored, and the backlog drains to zero', async () => {
    const deadline = Date.now() + 5000
    let len = Infinity
    while (Date.now() < deadline && len > 1) {
      len = await h.app.ocean.redis.xlen(h.config.stream)
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.ok(len <= 1, `stream still holds ${len} entries`)
    const backlog = (await h.api('GET', '/api/ocean/telemetry/unprocessed')).json()
    assert.deepEqual([backlog.events, backlog.pending_entries, backlog.lag_entries], [0, 0, 0])
  })
  it('a malformed entry goes to the dead-letter stream and the worker carries on', async () => {
    await h.app.ocean.redis.xadd(h.config.stream, '*', 'e', '{"not": "events"}')
    await h.api('POST', '/api/ocean/telemetry/ingest', { sensor_id: 'after-poison', value: 1 })
    await h.waitForRows(921 + 5400 + 1)
    const dead = await h.app.ocean.redis.xrange(`${h.config.stream}:dead`, '-', '+')
    assert.equal(dead.length, 1)
    assert.ok(dead[0]?.[1].includes('source_id'))
  })
  it('the old mark-processed route is retired with 410', async () => {
    const r = await h.api('POST', '/api/ocean/telemetry/mark-processed', {})
    assert.equal(r.statusCode, 410)
    assert.equal(r.json().error.code, 'OCEAN_E_ROUTE_RETIRED')
  })
})

describe('redis down', () => {
  it('ingest answers 503 (never 202), /ready says which check failed, and data already stored stays queryable', async () => {
    const rows = await h.engine.store.totalRows()
    await h.redis.stop()
    const r = await h.api('POST', '/api/ocean/telemetry/ingest', { sensor_id: 'lost', value: 1 })
    assert.equal(r.statusCode, 503)
    assert.equal(r.json().error.code, 'OCEAN_E_BUFFER_UNAVAILABLE')
    const b = await h.api('POST', '/api/ocean/telemetry/batch', { events: [{ sensor_id: 'lost', value: 1 }] })
    assert.equal(b.statusCode, 503)
    const ready = await h.app.inject({ url: '/ready' })
    assert.equal(ready.statusCode, 503)
    assert.equal(ready.json().checks.redis.ok, false)
    assert.equal(ready.json().checks.sqlite.ok, true)
    const s = (await h.api('GET', '/api/ocean/analytics/sensor/pump-1/stats')).json()
    assert.equal(s.count, 601)
    assert.equal(await h.engine.store.totalRows(), rows)
    assert.equal((await h.api('POST', '/api/ocean/users', { username: 'noredis', email: 'n@r.io' })).statusCode, 201, 'SQLite routes keep working')
  })
})
