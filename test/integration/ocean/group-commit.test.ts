// Single events arriving together are added to the Redis buffer in one round trip (group commit):
// each is answered 202 only once Redis holds it, with the id of the entry that holds it, and each is
// stored exactly once. On the DuckDB side, a trickle of single events is stored in a few transactions
// (the worker lingers after draining the stream), not one per event.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { startOcean, type Harness } from '../../helpers/ocean-harness.ts'

let h: Harness
before(async () => {
  // Entries of 50 events, so 300 events arriving together span several entries.
  h = await startOcean({ OCEAN_ENTRY_EVENTS: '50' })
})
after(async () => {
  await h?.close()
})

describe('single-event ingest, group commit', () => {
  it('events sent together each get the id of the entry holding them, and are stored once', async () => {
    const n = 300
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => h.api('POST', '/api/ocean/telemetry/ingest', { sensor_id: 'group-1', value: i + 1 })))
    assert.deepEqual([...new Set(answers.map((a) => a.statusCode))], [202])
    const redis = new Redis(h.redis.url)
    try {
      for (const [i, a] of answers.entries()) {
        const { id, accepted } = a.json() as { id: string; accepted: number }
        assert.equal(accepted, 1)
        const entries = (await redis.xrange(h.config.stream, id, id)) as Array<[string, string[]]>
        assert.equal(entries.length, 1, `entry ${id} is in the stream`)
        const events = JSON.parse(entries[0]![1][1]!) as unknown[][]
        assert.ok(events.length <= 50, 'no entry holds more than OCEAN_ENTRY_EVENTS')
        assert.ok(events.some((e) => e[0] === 'group-1' && e[2] === i + 1), `event ${i + 1} is in entry ${id}`)
      }
    } finally {
      redis.disconnect()
    }
    await h.waitForRows(n)
    const s = (await h.api('GET', '/api/ocean/analytics/sensor/group-1/stats')).json()
    assert.deepEqual([s.count, s.min, s.max, s.avg], [n, 1, n, (n + 1) / 2])
  })
})

/** DuckDB append transactions the worker has committed (the db timing histogram's count). */
async function appends(): Promise<number> {
  const text = (await h.api('GET', '/metrics')).body
  const m = /^ocean_database_query_duration_seconds_count\{(?=[^}]*db="duckdb")(?=[^}]*op="append")[^}]*\} (\d+)$/m.exec(text)
  return m ? Number(m[1]) : 0
}

describe('ingest worker under a trickle of single events', () => {
  it('stores them in about one transaction per 100 ms, not one per event', async () => {
    const before = await appends()
    const stored = await h.engine.store.totalRows()
    const n = 150
    const t0 = performance.now()
    for (let i = 0; i < n; i++) {
      const r = await h.api('POST', '/api/ocean/telemetry/ingest', { sensor_id: 'trickle-1', value: i })
      assert.equal(r.statusCode, 202)
      await new Promise((res) => setTimeout(res, 4))
    }
    await h.waitForRows(stored + n)
    const ms = performance.now() - t0
    const commits = (await appends()) - before
    // One read per event (each arrives alone in its entry) would make ~150 transactions.
    assert.ok(commits <= Math.ceil(ms / 100) + 3, `${commits} DuckDB transactions for ${n} events over ${ms.toFixed(0)} ms`)
    assert.ok(commits >= 1)
  })
})
