// Bad input gets a 4xx with a stable code, and nothing of it is stored: not in Redis, not in
// DuckDB, not in SQLite.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { API_KEY, startOcean, type Harness } from '../../helpers/ocean-harness.ts'

let h: Harness
before(async () => {
  h = await startOcean({ OCEAN_MAX_BATCH_EVENTS: '500', OCEAN_MAX_BATCH_BYTES: '200000' })
})
after(async () => {
  await h?.close()
})

function raw(url: string, payload: string, contentType = 'application/json') {
  return h.app.inject({ method: 'POST', url, payload, headers: { authorization: `Bearer ${API_KEY}`, 'content-type': contentType } })
}

async function nothingBuffered(): Promise<void> {
  const accepted = await h.engine.store.totalRows()
  const buffered = await h.app.ocean.redis.xlen(h.config.stream).catch(() => 0)
  assert.equal(accepted, 0, 'DuckDB holds no rows')
  assert.equal(buffered, 0, 'the Redis stream holds no entries')
}

describe('malformed requests', () => {
  it('malformed JSON, NaN and Infinity literals are 400 OCEAN_E_MALFORMED_JSON', async () => {
    for (const body of ['{"sensor_id": "a", "value": 1', '{"sensor_id":"a","value":NaN}', '{"sensor_id":"a","value":Infinity}', "{'a':1}", '']) {
      const r = await raw('/api/ocean/telemetry/ingest', body)
      assert.equal(r.statusCode, 400, body)
      assert.equal(r.json().error.code, 'OCEAN_E_MALFORMED_JSON', body)
    }
    await nothingBuffered()
  })
  it('wrong types are refused, not coerced', async () => {
    for (const ev of [{ sensor_id: 'a', value: '12' }, { sensor_id: 5, value: 1 }, { sensor_id: 'a', value: true }, { sensor_id: 'a', data: [1] }, { sensor_id: 'a', value: null }]) {
      const r = await h.api('POST', '/api/ocean/telemetry/ingest', ev)
      assert.equal(r.statusCode, 400, JSON.stringify(ev))
      assert.equal(r.json().error.code, 'OCEAN_E_VALIDATION')
    }
    await nothingBuffered()
  })
  it('unknown fields are refused, not dropped', async () => {
    const r = await h.api('POST', '/api/ocean/telemetry/ingest', { sensor_id: 'a', value: 1, processed: true })
    assert.equal(r.statusCode, 400)
    assert.match(r.json().error.message, /additional properties/)
    assert.equal((await h.api('POST', '/api/ocean/users', { username: 'zed', email: 'z@e.io', admin: true })).statusCode, 400)
    await nothingBuffered()
  })
  it('a non-JSON content type is 415', async () => {
    const r = await raw('/api/ocean/telemetry/ingest', 'sensor_id=a&value=1', 'application/x-www-form-urlencoded')
    assert.equal(r.statusCode, 415)
    assert.equal(r.json().error.code, 'OCEAN_E_UNSUPPORTED_MEDIA_TYPE')
  })
  it('oversized bodies are 413 on every route', async () => {
    const big = JSON.stringify({ events: Array.from({ length: 400 }, () => ({ sensor_id: 'a', data: { ['x'.repeat(60)]: 1 }, value: 1.123456789 })), pad: 'x'.repeat(200_000) })
    assert.equal((await raw('/api/ocean/telemetry/batch', big)).statusCode, 413)
    const user = JSON.stringify({ username: 'u'.repeat(10), email: 'a@b.co', x: 'y'.repeat(70_000) })
    const r = await raw('/api/ocean/users', user)
    assert.equal(r.statusCode, 413)
    assert.equal(r.json().error.code, 'OCEAN_E_BODY_TOO_LARGE')
    await nothingBuffered()
  })
  it('a batch over the event limit is 413 OCEAN_E_BATCH_TOO_LARGE; an empty one is 400', async () => {
    const r = await h.api('POST', '/api/ocean/telemetry/batch', { events: Array.from({ length: 501 }, () => ({ sensor_id: 'a', value: 1 })) })
    assert.equal(r.statusCode, 413)
    assert.equal(r.json().error.code, 'OCEAN_E_BATCH_TOO_LARGE')
    assert.equal((await h.api('POST', '/api/ocean/telemetry/batch', { events: [] })).statusCode, 400)
    await nothingBuffered()
  })
})

describe('batches are all or nothing', () => {
  it('one bad event rejects the whole batch, naming it', async () => {
    const events: object[] = Array.from({ length: 300 }, (_, i) => ({ sensor_id: 'ok', value: i }))
    events[217] = { sensor_id: 'ok', data: '{"t": "warm"}' }
    const r = await h.api('POST', '/api/ocean/telemetry/batch', { events })
    assert.equal(r.statusCode, 400)
    assert.match(r.json().error.message, /events\[217\]/)
    events[217] = { sensor_id: 'ok', value: 1, timestamp: '1999-01-01T00:00:00+01:00' }
    const old = await h.api('POST', '/api/ocean/telemetry/batch', { events })
    assert.equal(old.statusCode, 400)
    assert.equal(old.json().error.code, 'OCEAN_E_TIMESTAMP_RANGE')
    await nothingBuffered()
  })
})

describe('ids and timestamps', () => {
  it('control characters, empty and over-long ids are refused (SQL metacharacters are just text: hostile-input.test.ts)', async () => {
    for (const id of ['a\u0000b', 'a\nb', '', 'x'.repeat(257), 'é'.repeat(129)]) {
      const r = await h.api('POST', '/api/ocean/telemetry/ingest', { sensor_id: id, value: 1 })
      assert.equal(r.statusCode, 400, JSON.stringify(id))
    }
    const analytics = await h.api('GET', `/api/ocean/analytics/sensor/${encodeURIComponent("x' OR 1=1 --\n")}/stats`)
    assert.equal(analytics.statusCode, 400)
    await nothingBuffered()
  })
  it('timestamps far in the past, in the future, without a zone, or impossible are refused', async () => {
    const cases: [unknown, string][] = [
      ['1970-01-01T00:00:00Z', 'OCEAN_E_TIMESTAMP_RANGE'],
      [Date.now() + 86_400_000, 'OCEAN_E_TIMESTAMP_RANGE'],
      ['2026-01-01T10:00:00', 'OCEAN_E_VALIDATION'],
      ['2026-02-30T10:00:00Z', 'OCEAN_E_VALIDATION'],
      [1.5e308, 'OCEAN_E_TIMESTAMP_RANGE'],
      [1.5, 'OCEAN_E_VALIDATION'],
    ]
    for (const [timestamp, code] of cases) {
      const r = await h.api('POST', '/api/ocean/telemetry/ingest', { sensor_id: 'a', value: 1, timestamp })
      assert.equal(r.statusCode, 400, String(timestamp))
      assert.equal(r.json().error.code, code, String(timestamp))
    }
    await nothingBuffered()
  })
  it('unicode ids are accepted and come back unchanged', async () => {
    const id = 'станция-7:水温@Tiranë'
    const r = await h.api('POST', '/api/ocean/telemetry/ingest', { sensor_id: id, value: 3.25 })
    assert.equal(r.statusCode, 202, r.body)
    await h.waitForRows(1)
    const stats = (await h.api('GET', `/api/ocean/analytics/sensor/${encodeURIComponent(id)}/stats`)).json()
    assert.deepEqual([stats.sensor_id, stats.count, stats.avg], [id, 1, 3.25])
  })
  it('analytics ranges must be real times in order', async () => {
    for (const qs of ['from=yesterday', 'from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'to=2026-13-01T00:00:00Z', 'bucket=7m', 'metric=a%20b', 'extra=1']) {
      const r = await h.api('GET', `/api/ocean/analytics/sensor/a/timeseries?${qs}`)
      assert.equal(r.statusCode, 400, qs)
    }
  })
})
