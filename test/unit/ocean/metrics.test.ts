// Database timing and failure counting (timed, timedStore), and the aggregation of several
// processes' registries the supervisor does: counters summed, the version not.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import client from 'prom-client'
import { Errors } from '../../../services/ocean/src/errors.ts'
import { createMetrics, timed, timedStore, type Metrics } from '../../../services/ocean/src/metrics.ts'

async function count(m: Metrics, name: 'dbErrors' | 'dbDuration', labels: { db: string; op: string }): Promise<number> {
  const json = await m[name].get()
  const v = (json.values as { labels: Record<string, unknown>; value: number; metricName?: string }[]).find(
    (s) => s.labels.db === labels.db && s.labels.op === labels.op && (name === 'dbErrors' || s.metricName?.endsWith('_count')),
  )
  return v?.value ?? 0
}

describe('timed', () => {
  it('times a sync or async operation, and counts the ones that throw', async () => {
    const m = createMetrics()
    const op = { db: 'sqlite', op: 'x' }
    assert.equal(timed(m, 'sqlite', 'x', () => 7), 7)
    assert.equal(await timed(m, 'sqlite', 'x', async () => 8), 8)
    assert.throws(() => timed(m, 'sqlite', 'x', () => {
      throw new Error('disk I/O error')
    }))
    await assert.rejects(timed(m, 'sqlite', 'x', async () => Promise.reject(new Error('locked'))))
    assert.equal(await count(m, 'dbDuration', op), 4)
    assert.equal(await count(m, 'dbErrors', op), 2)
  })
  it("does not count a store's deliberate answer (an OceanError) as a failure", async () => {
    const m = createMetrics()
    assert.throws(() => timed(m, 'sqlite', 'users.create', () => {
      throw Errors.conflict()
    }))
    assert.equal(await count(m, 'dbErrors', { db: 'sqlite', op: 'users.create' }), 0)
  })
  it('timedStore times every method as <store>.<method>, with the store as this', async () => {
    const m = createMetrics()
    class Store {
      private n = 1
      get(): number {
        return this.n
      }
      fail(): never {
        throw new Error('SQLITE_BUSY')
      }
    }
    const s = timedStore(m, 'sqlite', 'things', new Store())
    assert.equal(s.get(), 1)
    assert.throws(() => s.fail())
    assert.equal(await count(m, 'dbDuration', { db: 'sqlite', op: 'things.get' }), 1)
    assert.equal(await count(m, 'dbErrors', { db: 'sqlite', op: 'things.fail' }), 1)
  })
})

describe('aggregation of several processes', () => {
  it('sums counters and process gauges, keeps the version at 1', async () => {
    const procs = [createMetrics(), createMetrics(), createMetrics()]
    procs.forEach((m, i) => {
      m.ingested.inc(i + 1)
      m.info.set({ version: '1.2.3' }, 1)
    })
    const all = client.AggregatorRegistry.aggregate(await Promise.all(procs.map((m) => m.registry.getMetricsAsJSON())))
    const text = await all.metrics()
    assert.match(text, /^ocean_telemetry_ingested_total 6$/m)
    assert.match(text, /^ocean_info\{version="1.2.3"\} 1$/m)
    const rss = Number(/^ocean_memory_usage_bytes (\d+)$/m.exec(text)?.[1])
    assert.ok(rss > 2 * process.memoryUsage.rss(), 'three processes (here: three registries of this one) summed')
  })
})
