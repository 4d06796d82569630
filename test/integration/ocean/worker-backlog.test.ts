// The worker reads the next batch of a backlog while it stores the current one. A batch whose
// storing fails leaves that batch and the one read ahead delivered and unacknowledged: both must be
// read again and stored once, the read-ahead batch included, with nothing stored twice. An entry
// DuckDB refuses holds back only itself: the entries read with it are stored, and it alone goes to
// the dead-letter stream.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
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

/** Puts ENTRIES entries of ENTRY events in a fresh stream (events of entry n: times T0 + n * ENTRY + i). */
async function backlog(redis: Redis, stream: string, group: string): Promise<ReturnType<typeof bufferNames>> {
  const names = bufferNames(stream, group)
  const buffer = new RedisBuffer(redis, names, ENTRY)
  for (let n = 0; n < ENTRIES; n++) {
    await buffer.append(Array.from({ length: ENTRY }, (_, i): PackedEvent => [`s-${i % 17}`, T0 + n * ENTRY + i, n * ENTRY + i, null]))
  }
  return names
}

/** Resolves once the worker has acknowledged `total` events; fails the test after 60 s. */
async function allAcknowledged(redis: Redis, processed: string, total: number): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Number(await redis.get(processed)) < total) {
    assert.ok(Date.now() < deadline, `stored ${await redis.get(processed)} of ${total} within 60 s`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('the worker on a backlog', () => {
  it('stores every event once when storing a batch fails while the next one was already read', async () => {
    const redis = new Redis(server.url)
    const names = await backlog(redis, 'wb:telemetry', 'wb-workers')
    const store = await TelemetryStore.open({ dataDir: dir, memoryLimit: '256MB', threads: 2, hotMaxRows: 30_000, hotMaxAgeMs: 60_000 })
    // The third batch fails, after the worker has read the fourth ahead of it, and DuckDB goes on
    // refusing while the worker tries that batch's entries one at a time: the whole delivery fails.
    const append = store.append.bind(store)
    let calls = 0
    let refusing = 0
    let failedWith: string[] = []
    store.append = async (entries: BufferedEntry[]) => {
      if (++calls === 3) {
        failedWith = entries.map((e) => e.id)
        refusing = entries.length
        throw new Error('injected: DuckDB refused the batch')
      }
      if (refusing > 0) {
        refusing--
        throw new Error('injected: DuckDB still refuses')
      }
      return append(entries)
    }
    const workerRedis = new Redis(server.url, { maxRetriesPerRequest: null })
    const worker = new IngestWorker(workerRedis, new RedisBuffer(workerRedis, names, ENTRY), store, createMetrics(), pino({ level: 'silent' }), { consumer: 'wb-1', maxDeliveries: 5 })
    try {
      worker.start()
      const total = ENTRIES * ENTRY
      await allAcknowledged(redis, names.processed, total)
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

  it('stores the rest of a batch when DuckDB refuses one entry of it, and dead-letters that entry alone', async () => {
    // A real refusal: the hot table carries a CHECK constraint that one event breaks. The event
    // decodes fine (a number), so only DuckDB's append can turn it away.
    const refusedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-worker-refused-'))
    const db = await DuckDBInstance.create(path.join(refusedDir, 'telemetry.duckdb'))
    const setup = await db.connect()
    await setup.run('CREATE TABLE telemetry_hot (sensor_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE CHECK (value IS NULL OR value <> -666), data VARCHAR)')
    setup.closeSync()
    db.closeSync()
    const redis = new Redis(server.url)
    const names = bufferNames('wr:telemetry', 'wr-workers')
    const buffer = new RedisBuffer(redis, names, 100)
    const entries = 30
    const refusedAt = 7
    for (let n = 0; n < entries; n++) {
      const events: PackedEvent[] = Array.from({ length: 100 }, (_, i) => [`s-${i % 7}`, T0 + n * 100 + i, n === refusedAt && i === 50 ? -666 : n * 100 + i, null])
      await buffer.append(events)
    }
    const ids = ((await redis.xrange(names.stream, '-', '+')) as [string, string[]][]).map(([id]) => id)
    const store = await TelemetryStore.open({ dataDir: refusedDir, memoryLimit: '256MB', threads: 2, hotMaxRows: 30_000, hotMaxAgeMs: 60_000 })
    const append = store.append.bind(store)
    const tried: string[][] = []
    store.append = async (batch: BufferedEntry[]) => {
      tried.push(batch.map((e) => e.id))
      return append(batch)
    }
    const workerRedis = new Redis(server.url, { maxRetriesPerRequest: null })
    const worker = new IngestWorker(workerRedis, new RedisBuffer(workerRedis, names, 100), store, createMetrics(), pino({ level: 'silent' }), { consumer: 'wr-1', maxDeliveries: 2 })
    try {
      worker.start()
      const good = (entries - 1) * 100
      const deadline = Date.now() + 60_000
      while (Number(await redis.get(names.processed)) < good || (await redis.xlen(names.deadLetter)) < 1) {
        assert.ok(Date.now() < deadline, `stored ${await redis.get(names.processed)} of ${good} and dead-lettered ${await redis.xlen(names.deadLetter)} of 1 within 60 s`)
        await new Promise((r) => setTimeout(r, 50))
      }
      await new Promise((r) => setTimeout(r, 300)) // anything stored twice or dead-lettered late would show now
      await worker.stop()
      const first = tried[0] ?? []
      assert.ok(first.length > 1 && first.includes(ids[refusedAt] as string), `the refused entry was first tried in a batch with others (batches tried: ${tried.map((b) => b.length).join(', ')})`)
      const [row] = await store.readAll('SELECT count(*)::INTEGER AS n, count(DISTINCT ts)::INTEGER AS distinct_ts FROM telemetry')
      assert.equal(row?.n, good, 'every event of the other entries stored')
      assert.equal(row?.distinct_ts, good, 'none stored twice')
      assert.equal(Number(await redis.get(names.processed)), good, 'acknowledged once each')
      const stored = await store.storedEntryIds(ids)
      assert.deepEqual([...ids].filter((id) => !stored.has(id)), [ids[refusedAt]], 'only the refused entry is unstored')
      const dead = (await redis.xrange(names.deadLetter, '-', '+')) as [string, string[]][]
      assert.equal(dead.length, 1, 'one entry dead-lettered')
      const fields = dead[0]?.[1] ?? []
      assert.equal(fields[fields.indexOf('source_id') + 1], ids[refusedAt])
      assert.equal((JSON.parse(fields[fields.indexOf('e') + 1] ?? '[]') as unknown[]).length, 100, 'the dead-letter entry keeps all its events')
      const pending = (await redis.xpending(names.stream, names.group)) as [number]
      assert.equal(pending[0], 0, 'nothing left pending')
    } finally {
      await worker.stop()
      store.close()
      workerRedis.disconnect()
      redis.disconnect()
      fs.rmSync(refusedDir, { recursive: true, force: true })
    }
  })

  it('trims stored entries from the stream as it stores a backlog, not only once a second', async () => {
    const trimDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-worker-trim-'))
    const redis = new Redis(server.url)
    const names = await backlog(redis, 'wt:telemetry', 'wt-workers')
    const store = await TelemetryStore.open({ dataDir: trimDir, memoryLimit: '256MB', threads: 2, hotMaxRows: 30_000, hotMaxAgeMs: 60_000 })
    const workerRedis = new Redis(server.url, { maxRetriesPerRequest: null })
    // Trimmed by time only once in the test (at its first read): what is trimmed after is trimmed by count.
    const trimEveryEvents = 20_000
    const worker = new IngestWorker(workerRedis, new RedisBuffer(workerRedis, names, ENTRY), store, createMetrics(), pino({ level: 'silent' }), {
      consumer: 'wt-1',
      maxDeliveries: 5,
      trimEveryMs: 3_600_000,
      trimEveryEvents,
    })
    try {
      worker.start()
      const total = ENTRIES * ENTRY
      await allAcknowledged(redis, names.processed, total)
      await new Promise((r) => setTimeout(r, 300))
      await worker.stop()
      // What is left: entries acknowledged since the last trim (under trimEveryEvents) and the last read.
      const left = await redis.xlen(names.stream)
      const [row] = await store.readAll('SELECT count(*)::INTEGER AS n FROM telemetry')
      assert.equal(row?.n, total, 'every event stored')
      assert.ok(left <= 2 * (trimEveryEvents / ENTRY), `${left} of ${ENTRIES} entries left in the stream once all were stored`)
    } finally {
      await worker.stop()
      store.close()
      workerRedis.disconnect()
      redis.disconnect()
      fs.rmSync(trimDir, { recursive: true, force: true })
    }
  })
})
