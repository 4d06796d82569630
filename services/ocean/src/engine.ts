// The engine: the one process that owns the DuckDB file. It runs the ingest worker and answers
// analytics. Runs inside the API process (OCEAN_API_PROCESSES=0) or as its own process.
import { Redis } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import { LocalAnalytics } from './analytics/local-analytics.ts'
import { bufferNames, RedisBuffer } from './buffer/redis-buffer.ts'
import type { OceanConfig } from './config.ts'
import type { Metrics } from './metrics.ts'
import { TelemetryStore } from './stores/duckdb-store.ts'
import { IngestWorker } from './worker/ingest-worker.ts'

export interface Engine {
  store: TelemetryStore
  analytics: LocalAnalytics
  /** Drains the worker (the batch in hand is stored and acknowledged), then closes DuckDB. */
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
  }
}

export async function startEngine(config: OceanConfig, metrics: Metrics, log: FastifyBaseLogger): Promise<Engine> {
  const store = await TelemetryStore.open(storeOptions(config))
  // The worker's own connection: it blocks in XREADGROUP and waits out Redis restarts.
  const redis = new Redis(config.redisUrl, { connectionName: 'ocean-worker', maxRetriesPerRequest: null })
  redis.on('error', (err) => log.warn({ err: err.message }, 'worker redis connection error'))
  const worker = new IngestWorker(redis, new RedisBuffer(redis, bufferNames(config.stream, config.group), config.entryEvents), store, metrics, log, {
    consumer: config.consumer,
    maxDeliveries: config.maxDeliveries,
  })
  worker.start()
  return {
    store,
    analytics: new LocalAnalytics(store, metrics),
    async close() {
      const drained = await Promise.race([worker.stop().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000).unref())])
      if (!drained) log.warn('worker did not drain within 10 s (Redis unreachable?); its batch will be re-delivered')
      redis.disconnect()
      await worker.stop()
      store.close()
    },
  }
}
