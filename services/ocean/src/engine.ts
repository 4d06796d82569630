// The engine: the one process that owns the DuckDB file. It runs the ingest worker and answers
// analytics. Runs inside the API process (OCEAN_API_PROCESSES=0) or as its own process.
import { Redis } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import { LocalAnalytics } from './analytics/local-analytics.ts'
import type { BufferAccount } from './buffer/drain-result.ts'
import { bufferNames, connectRedis, RedisBuffer, redisReady } from './buffer/redis-buffer.ts'
import type { OceanConfig } from './config.ts'
import { createMetrics, type BufferState, type Metrics } from './metrics.ts'
import { keepPrivate } from './stores/private-files.ts'
import { TelemetryStore } from './stores/duckdb-store.ts'
import { IngestWorker } from './worker/ingest-worker.ts'
import { trimEveryEvents } from './worker/trim-policy.ts'

export interface Engine {
  store: TelemetryStore
  analytics: LocalAnalytics
  /** Stops the worker after it has stored what the stream holds (within OCEAN_DRAIN_SECONDS), then closes DuckDB. */
  close(): Promise<void>
}

/** The telemetry store as the configuration sets it up (the engine's, and the benchmark's copy of it). */
export function storeOptions(config: OceanConfig): Parameters<typeof TelemetryStore.open>[0] {
  return {
    dataDir: config.dataDir,
    memoryLimit: config.duckdbMemoryLimit,
    threads: config.duckdbThreads,
    hotMaxRows: config.hotMaxRows,
    hotMaxAgeMs: config.hotMaxAgeMs,
    lockWaitMs: config.duckdbLockWaitMs,
  }
}

/** How long a stopping engine waits for its worker after the drain's deadline has passed (with the default 20 s drain, a stop with Redis down takes ~27 s: inside the deploy's 30 s StopTimeout). */
const WORKER_STOP_GRACE_MS = 2000

export async function startEngine(config: OceanConfig, metrics: Metrics, log: FastifyBaseLogger): Promise<Engine> {
  const store = await TelemetryStore.open(storeOptions(config))
  keepPrivate(config.dataDir)
  // The worker's own connection: it blocks in XREADGROUP and waits out Redis restarts.
  const redis = new Redis(config.redisUrl, { connectionName: 'ocean-worker', maxRetriesPerRequest: null })
  redis.on('error', (err) => log.warn({ err: err.message }, 'worker redis connection error'))
  const worker = new IngestWorker(redis, new RedisBuffer(redis, bufferNames(config.stream, config.group), config.entryEvents), store, metrics, log, {
    consumer: config.consumer,
    maxDeliveries: config.maxDeliveries,
    trimEveryEvents: trimEveryEvents(config.backlogMaxEvents),
  })
  worker.start()
  // The buffer's gauges describe Redis, not a process: the engine is the one process reporting them,
  // on a connection of their own (the worker's blocks in XREADGROUP).
  const gauges = connectRedis(config.redisUrl, 'ocean-engine-metrics')
  gauges.on('error', () => undefined) // the gauges read NaN meanwhile
  metrics.reportBuffer(() => bufferState(gauges, new RedisBuffer(gauges, bufferNames(config.stream, config.group), config.entryEvents)))
  metrics.info.set({ version: config.version }, 1)
  return {
    store,
    analytics: new LocalAnalytics(store, metrics),
    async close() {
      // Redis unreachable: XREADGROUP waits for it, so the drain is bounded from outside too.
      const drained = await within(worker.stop({ drainMs: config.drainMs }), config.drainMs + 5000)
      if (drained === 'timeout' || !drained?.drained) log.warn({ drainSeconds: config.drainMs / 1000, ...(drained === 'timeout' ? {} : drained) }, 'worker stopped before the buffer was drained (Redis unreachable, or a backlog larger than the drain time); the rest is stored at the next start')
      else log.info(drained, 'buffer drained')
      redis.disconnect()
      gauges.disconnect()
      // With Redis refusing connections, the command the worker waits on stays queued while ioredis
      // reconnects, and disconnect() did not settle it (an engine stopped so was still waiting after
      // 90 s). The worker gets a few seconds more, then is left as it is, DuckDB unclosed under it:
      // the next start opens the file as after a crash (its WAL replayed); what the worker had not
      // stored and acknowledged is still in Redis.
      if ((await within(worker.stop(), WORKER_STOP_GRACE_MS)) === 'timeout') {
        log.warn({ graceSeconds: WORKER_STOP_GRACE_MS / 1000 }, 'the ingest worker is still waiting for Redis; stopping without closing DuckDB (the next start recovers it from its WAL)')
        return
      }
      store.close()
    },
  }
}

/** `p`'s value, or 'timeout' if it has not settled within `ms` (the timer keeps no process alive). */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref())])
}

/** The oldest unstored event's age by the Redis server's clock, the clock its stream id was taken from. */
async function bufferState(redis: Redis, buffer: RedisBuffer): Promise<BufferState> {
  const [b, [seconds, micros]] = await Promise.all([buffer.backlog(), redis.time()])
  const now = Number(seconds) * 1000 + Number(micros) / 1000
  const oldest = b.oldest_unprocessed_at === null ? null : Date.parse(b.oldest_unprocessed_at)
  return {
    events: b.events,
    deadLetterEntries: b.dead_letter_entries,
    oldestUnstoredAgeSeconds: oldest === null ? 0 : Math.max(0, (now - oldest) / 1000),
  }
}

/**
 * With the API stopped (the caller's job): stores everything the stream still holds for the group
 * (entries a crashed or stopped worker left too), within OCEAN_DRAIN_SECONDS, then says what, if
 * anything, is still not in DuckDB. Used before anything reads DuckDB as "what the new side holds".
 */
export async function drainBuffer(config: OceanConfig, log: FastifyBaseLogger): Promise<BufferAccount> {
  const store = await TelemetryStore.open(storeOptions(config))
  const redis = new Redis(config.redisUrl, { connectionName: 'ocean-drain', maxRetriesPerRequest: 3, commandTimeout: 60_000 })
  redis.on('error', (err) => log.warn({ err: err.message }, 'drain redis connection error'))
  try {
    await redisReady(redis)
    const names = bufferNames(config.stream, config.group)
    const buffer = new RedisBuffer(redis, names, config.entryEvents)
    await redis.xgroup('CREATE', names.stream, names.group, '0', 'MKSTREAM').catch((e: unknown) => {
      if (!String(e).includes('BUSYGROUP')) throw e
    })
    const worker = new IngestWorker(redis, buffer, store, createMetrics(), log, { consumer: config.consumer, maxDeliveries: config.maxDeliveries })
    const r = await worker.drain(performance.now() + config.drainMs)
    const [oldest, backlog, dead] = await Promise.all([
      buffer.oldestUnprocessedId(),
      buffer.backlog(),
      redis.xrange(names.deadLetter, '-', '+', 'COUNT', 20) as Promise<[string, string[]][]>,
    ])
    return {
      drained: r.drained && oldest === null,
      storedEntries: r.entries,
      storedEvents: r.events,
      oldestUnstoredId: oldest,
      pendingEntries: backlog.pending_entries,
      deadLetter: { count: backlog.dead_letter_entries, sourceIds: dead.map(([id, f]) => f[f.indexOf('source_id') + 1] ?? id) },
    }
  } finally {
    redis.disconnect()
    store.close()
  }
}
