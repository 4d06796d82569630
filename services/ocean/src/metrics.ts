// Prometheus metrics under the names the README's Monitoring section promises (alert rules and the
// dashboard use them). One registry per process; in multi-process mode the supervisor adds the
// processes' registries up (metrics-aggregation.ts), so every metric here must mean something summed.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import client from 'prom-client'
import { isOceanError } from './errors.ts'

export type QueryType = 'stats' | 'timeseries' | 'anomalies' | 'compare' | 'export'

/** What the buffer's gauges show; read from Redis at scrape time. */
export interface BufferState {
  events: number
  oldestUnstoredAgeSeconds: number
  deadLetterEntries: number
}

export interface Metrics {
  registry: client.Registry
  requests: client.Counter<'method' | 'route' | 'status'>
  requestDuration: client.Histogram<'method' | 'route' | 'status'>
  errors: client.Counter<'route' | 'status' | 'code'>
  ingested: client.Counter
  refused: client.Counter<'reason'>
  /** 1 while this process refuses ingest (backpressure); across processes, the max. */
  backpressure: client.Gauge
  stored: client.Counter
  storeFailures: client.Counter
  deadLettered: client.Counter
  queries: client.Counter<'type'>
  dbDuration: client.Histogram<'db' | 'op'>
  dbErrors: client.Counter<'db' | 'op'>
  info: client.Gauge<'version'>
  /**
   * Makes this process the one that reports the buffer's gauges. They describe Redis, not the
   * process, so exactly one process reports them (the engine): summed, they stay right.
   */
  reportBuffer(read: () => Promise<BufferState>): void
}

/** Single-process mode reports 0; the supervisor sets it per scrape (metrics-aggregation.ts). */
export const PROCESSES_MISSING = { name: 'ocean_metrics_processes_missing', help: 'Processes that did not answer this scrape in time (their numbers are not in it)' }

/** Redis not answering within this makes the buffer gauges NaN (unknown), not a reassuring 0. */
const BUFFER_READ_TIMEOUT_MS = 1000

export function createMetrics(): Metrics {
  const registry = new client.Registry()
  const registers = [registry]
  const info = processMetrics(registry)
  const bufferGauges = bufferMetrics()
  new client.Gauge({ ...PROCESSES_MISSING, registers }).set(0)
  return {
    registry,
    requests: new client.Counter({ name: 'ocean_requests_total', help: 'HTTP requests answered', labelNames: ['method', 'route', 'status'], registers }),
    requestDuration: new client.Histogram({
      name: 'ocean_request_duration_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    }),
    errors: new client.Counter({ name: 'ocean_errors_total', help: 'Error answers (status >= 400) by error code', labelNames: ['route', 'status', 'code'], registers }),
    ingested: new client.Counter({ name: 'ocean_telemetry_ingested_total', help: 'Events accepted into the buffer', registers }),
    refused: new client.Counter({
      name: 'ocean_ingest_refused_total',
      help: 'Ingest requests refused with 429 because the unstored backlog was over its bound, by bound (events, age)',
      labelNames: ['reason'],
      registers,
    }),
    backpressure: new client.Gauge({
      name: 'ocean_ingest_backpressure',
      help: '1 while ingest refuses (429) because the unstored backlog is over its bound; across processes, the max',
      registers,
      aggregator: 'max',
    }),
    stored: new client.Counter({ name: 'ocean_telemetry_stored_total', help: 'Events stored in DuckDB', registers }),
    storeFailures: new client.Counter({ name: 'ocean_telemetry_store_failures_total', help: 'Worker batches that failed and will be retried', registers }),
    deadLettered: new client.Counter({ name: 'ocean_dead_letter_entries_total', help: 'Buffer entries moved to the dead-letter stream', registers }),
    queries: new client.Counter({ name: 'ocean_queries_processed_total', help: 'Analytics queries answered, by type', labelNames: ['type'], registers }),
    dbDuration: new client.Histogram({
      name: 'ocean_database_query_duration_seconds',
      help: 'Database operation duration',
      labelNames: ['db', 'op'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
    dbErrors: new client.Counter({ name: 'ocean_database_errors_total', help: 'Database operations that threw', labelNames: ['db', 'op'], registers }),
    info,
    reportBuffer(read) {
      // The three gauges are collected together: one read of Redis per scrape.
      let reading: Promise<BufferState> | undefined
      const once = () =>
        (reading ??= withTimeout(read(), BUFFER_READ_TIMEOUT_MS)
          .catch(() => ({ events: NaN, oldestUnstoredAgeSeconds: NaN, deadLetterEntries: NaN }))
          .finally(() => (reading = undefined)))
      bufferGauges.source = once
      for (const g of bufferGauges.gauges) registry.registerMetric(g)
    },
  }
}

function bufferMetrics() {
  const state: { source?: () => Promise<BufferState>; gauges: client.Gauge[] } = { gauges: [] }
  const gauge = (name: string, help: string, pick: (s: BufferState) => number) =>
    new client.Gauge({
      name,
      help,
      registers: [],
      async collect() {
        if (state.source) this.set(pick(await state.source()))
      },
    })
  state.gauges = [
    gauge('ocean_buffer_backlog_events', 'Events accepted but not yet stored', (s) => s.events),
    gauge(
      'ocean_buffer_oldest_unstored_age_seconds',
      'Seconds since the oldest accepted-but-not-stored event was accepted (Redis server clock); 0 when none',
      (s) => s.oldestUnstoredAgeSeconds,
    ),
    gauge('ocean_dead_letter_entries', 'Entries in the dead-letter stream now', (s) => s.deadLetterEntries),
  ]
  return state
}

let loopDelay: IntervalHistogram | undefined

/**
 * This process's CPU, memory and event-loop lag, and the service version: every process reports
 * them (the supervisor too), so summed they are the service's. Returns the info gauge.
 */
export function processMetrics(registry: client.Registry): client.Gauge<'version'> {
  const registers = [registry]
  let lastCpu = process.cpuUsage()
  let lastAt = performance.now()
  new client.Gauge({
    name: 'ocean_cpu_usage_percent',
    help: "The process's CPU use since the previous scrape, in percent of one core",
    registers,
    collect() {
      const cpu = process.cpuUsage(lastCpu)
      const now = performance.now()
      const wallUs = (now - lastAt) * 1000
      if (wallUs > 0) this.set(((cpu.user + cpu.system) / wallUs) * 100)
      lastCpu = process.cpuUsage()
      lastAt = now
    },
  })
  new client.Gauge({
    name: 'ocean_memory_usage_bytes',
    help: "The process's resident set size",
    registers,
    collect() {
      this.set(process.memoryUsage.rss())
    },
  })
  loopDelay ??= monitorEventLoopDelay({ resolution: 20 })
  loopDelay.enable()
  new client.Gauge({
    name: 'ocean_event_loop_lag_seconds',
    help: 'p99 event-loop delay since the previous scrape; across processes, the worst one',
    registers,
    aggregator: 'max',
    collect() {
      if (!loopDelay) return
      // Before the first sample the histogram reports an absurd p99; 0 reads right.
      this.set(loopDelay.count > 0 ? loopDelay.percentile(99) / 1e9 : 0)
      loopDelay.reset()
    },
  })
  return new client.Gauge({ name: 'ocean_info', help: 'The service version (value 1)', labelNames: ['version'], registers, aggregator: 'max' })
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  )
}

/**
 * Runs a database operation (sync or async), timed into the duration histogram and counted in the
 * errors counter if it throws. An OceanError is a store's deliberate answer (a conflict), not a failure.
 */
export function timed<T>(m: Metrics, db: string, op: string, fn: () => T): T {
  const end = m.dbDuration.startTimer({ db, op })
  const failed = (e: unknown): never => {
    end()
    if (!isOceanError(e)) m.dbErrors.inc({ db, op })
    throw e
  }
  let result: T
  try {
    result = fn()
  } catch (e) {
    return failed(e)
  }
  if (!(result instanceof Promise)) {
    end()
    return result
  }
  return result.then((v: unknown) => {
    end()
    return v
  }, failed) as T
}

/** `store` with every method call timed as {db, op: '<name>.<method>'}. */
export function timedStore<S extends object>(m: Metrics, db: string, name: string, store: S): S {
  const wrappers = new Map<string, unknown>()
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target)
      if (typeof value !== 'function' || typeof prop !== 'string') return value
      let w = wrappers.get(prop)
      if (!w) {
        const op = `${name}.${prop}`
        w = (...args: unknown[]) => timed(m, db, op, () => (value as (...a: unknown[]) => unknown).apply(target, args))
        wrappers.set(prop, w)
      }
      return w
    },
  })
}
