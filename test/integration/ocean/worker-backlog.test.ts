// The worker reads the next batch of a backlog while it stores the current one. A batch whose
// storing fails leaves that batch and the one read ahead delivered and unacknowledged: both must be
// read again and stored once, the read-ahead batch included, with nothing stored twice.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import pino from 'pino'
import { startRedis, type RedisServer } from '../../../scripts/lib/loopback-servers.ts'
import { bufferNames, RedisBuffer } from '../../../services/ocean/src/buffer/redis-buffer.ts'
import { createMetrics } from '../../../services/ocean/src/metrics.ts'
import { TelemetryStore, type BufferedEntry, type PackedEvent } from '../../../services/ocean/src/stores/duckdb-store.ts'
import { IngestWorker } from '../../../services/ocean/src/worker/ingest-worker.ts'

const T0 = Date.parse('2026-01-05T00:00:00Z')
const ENTRY = 1000
const ENTRIES = 120
let server: RedisServer
let dir: string

before(async () => {
  server = await startRedis()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-worker-backlog-'))
})
after(async () => {
  await server?.stop()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

describe('the worker on a backlog', () => {
  it('stores every event once when storing a batch fails while the next one was already read', async () => {
    const redis = new Redis(server.url)
    const names = bufferNames('wb:telemetry', 'wb-workers')
    const buffer = new RedisBuffer(redis, names, ENTRY)
    for (let n = 0; n < ENTRIES; n++) {
      const events: PackedEvent[] = Array.from({ length: ENTRY }, (_, i) => [`s-${i % 17}`, T0 + n * ENTRY + i, n * ENTRY + i, null])
      await buffer.append(events)
    }
    const store = await TelemetryStore.open({ dataDir: dir, memoryLimit: '256MB', threads: 2, hotMaxRows: 30_000, hotMaxAgeMs: 60_000 })
    // The third batch fails once, after the worker has read the fourth ahead of it.
    const append = store.append.bind(store)
    let calls = 0
    let failedWith: string[] = []
    store.append = async (entries: BufferedEntry[]) => {
      if (++calls === 3) {
        failedWith = entries.map((e) => e.id)
        throw new Error('injected: DuckDB refused the batch')
      }
      return append(entries)
    }
    const workerRedis = new Redis(server.url, { maxRetriesPerRequest: null })
    const worker = new IngestWorker(workerRedis, new RedisBuffer(workerRedis, names, ENTRY), store, createMetrics(), pino({ level: 'silent' }), { consumer: 'wb-1', maxDeliveries: 5 })
    try {
      worker.start()
      const total = ENTRIES * ENTRY
      const deadline = Date.now() + 60_000
      while (Number(await redis.get(names.processed)) < total) {
        assert.ok(Date.now() < deadline, `stored ${await redis.get(names.processed)} of ${total} within 60 s`)
        await new Promise((r) => setTimeout(r, 50))
      }
      assert.ok(failedWith.length > 0, 'the injected failure happened')
      await new Promise((r) => setTimeout(r, 300)) // a batch stored twice would show now
      await worker.stop()
      const [row] = await store.readAll('SELECT count(*)::INTEGER AS n, count(DISTINCT ts)::INTEGER AS distinct_ts FROM telemetry')
      assert.equal(row?.n, total, 'every event stored')
      assert.equal(row?.distinct_ts, total, 'none stored twice')
      assert.equal(Number(await redis.get(names.processed)), total, 'acknowledged once each')
      assert.equal(await redis.xlen(names.deadLetter), 0)
      const pending = (await redis.xpending(names.stream, names.group)) as [number]
      assert.equal(pending[0], 0, 'nothing left pending')
      const stored = await store.storedEntryIds(failedWith)
      assert.equal(stored.size, failedWith.length, 'the failed batch was stored on its second delivery')
    } finally {
      await worker.stop()
      store.close()
      workerRedis.disconnect()
      redis.disconnect()
    }
  })
})
