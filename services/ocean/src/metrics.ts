// Prometheus metrics: request durations, the ingest pipeline's counters, buffer backlog and
// database timings. One registry per process; `collectDefaultMetrics` adds memory and CPU.
import client from 'prom-client'

export interface Metrics {
  registry: client.Registry
  httpDuration: client.Histogram<'method' | 'route' | 'status'>
  ingested: client.Counter
  processed: client.Counter
  failed: client.Counter
  deadLettered: client.Counter
  dbDuration: client.Histogram<'db' | 'op'>
  backlog: client.Gauge
  /** Where the backlog gauge reads from when scraped. */
  setBacklogSource(source: () => Promise<number>): void
}

export function createMetrics(): Metrics {
  const registry = new client.Registry()
  let backlogSource: (() => Promise<number>) | undefined
  client.collectDefaultMetrics({ register: registry, prefix: 'ocean_' })
  return {
    registry,
    httpDuration: new client.Histogram({
      name: 'ocean_http_request_duration_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    ingested: new client.Counter({ name: 'ocean_events_ingested_total', help: 'Events accepted into the buffer', registers: [registry] }),
    processed: new client.Counter({ name: 'ocean_events_processed_total', help: 'Events stored in DuckDB', registers: [registry] }),
    failed: new client.Counter({ name: 'ocean_events_failed_total', help: 'Worker batches that failed and will be retried', registers: [registry] }),
    deadLettered: new client.Counter({ name: 'ocean_dead_letter_entries_total', help: 'Buffer entries moved to the dead-letter stream', registers: [registry] }),
    dbDuration: new client.Histogram({
      name: 'ocean_db_duration_seconds',
      help: 'Database operation duration',
      labelNames: ['db', 'op'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    backlog: new client.Gauge({
      name: 'ocean_buffer_backlog_events',
      help: 'Events accepted but not yet stored',
      registers: [registry],
      async collect() {
        if (backlogSource) this.set(await backlogSource().catch(() => NaN))
      },
    }),
    setBacklogSource(source) {
      backlogSource = source
    },
  }
}

/** Times an async operation into the database histogram. */
export async function timed<T>(m: Metrics, db: string, op: string, fn: () => Promise<T>): Promise<T> {
  const end = m.dbDuration.startTimer({ db, op })
  try {
    return await fn()
  } finally {
    end()
  }
}
