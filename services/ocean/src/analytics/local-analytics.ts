// Analytics answered in the process that owns the DuckDB file.
import type { Readable } from 'node:stream'
import type { DuckDBValue } from '@duckdb/node-api'
import { timed, type Metrics, type QueryType } from '../metrics.ts'
import type { TelemetryStore } from '../stores/duckdb-store.ts'
import type { SnapshotTaken } from '../stores/snapshots.ts'
import type { Analytics, AnomalyQuery, CompareQuery, EngineInfo, ExportQuery, SensorStats, SeriesQuery } from './analytics.ts'
import { exportStream } from './export-stream.ts'
import { anomaliesQuery, compareQuery, statsQuery, timeseriesQuery, type Range, type SqlQuery } from './analytics-queries.ts'

type Row = Record<string, unknown>

function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v)
}

function iso(ms: unknown): string {
  return new Date(Number(ms)).toISOString()
}

export class LocalAnalytics implements Analytics {
  constructor(
    private readonly store: TelemetryStore,
    private readonly metrics: Metrics,
  ) {}

  /** Runs a query, timed; counted as answered here, once, in whichever process owns DuckDB. */
  private async rows(type: QueryType, q: SqlQuery): Promise<Row[]> {
    const rows = await timed(this.metrics, 'duckdb', type, () => this.store.readAll(q.sql, q.params as Record<string, DuckDBValue>))
    this.metrics.queries.inc({ type })
    return rows
  }

  async stats(q: Range & { sensor_id: string; metric: string }): Promise<SensorStats> {
    const [r = {}] = await this.rows('stats', statsQuery(q.sensor_id, q.metric, q))
    return {
      sensor_id: q.sensor_id,
      metric: q.metric,
      count: Number(r.count ?? 0),
      min: num(r.min),
      max: num(r.max),
      avg: num(r.avg),
      stddev: num(r.stddev),
      p50: num(r.p50),
      p95: num(r.p95),
      p99: num(r.p99),
    }
  }

  async timeseries(q: SeriesQuery) {
    const rows = await this.rows('timeseries', timeseriesQuery(q.sensor_id, q.metric, q.bucket, q))
    return {
      sensor_id: q.sensor_id,
      bucket: q.bucket,
      metric: q.metric,
      points: rows.map((r) => ({ t: iso(r.t), count: Number(r.count), min: num(r.min), max: num(r.max), avg: num(r.avg) })),
    }
  }

  async anomalies(q: AnomalyQuery) {
    const rows = await this.rows('anomalies', anomaliesQuery(q.sensor_id, q.metric, q.window, q.threshold, q.limit, q))
    return {
      sensor_id: q.sensor_id,
      metric: q.metric,
      anomalies: rows.map((r) => ({ t: iso(r.t), value: Number(r.value), mean: Number(r.mean), stddev: Number(r.stddev), z: Number(r.z) })),
    }
  }

  async compare(q: CompareQuery) {
    const rows = await this.rows('compare', compareQuery(q.sensor_ids, q.metric, q.bucket, q))
    const bySensor = new Map<string, { t: string; count: number; avg: number | null }[]>(q.sensor_ids.map((s) => [s, []]))
    for (const r of rows) bySensor.get(String(r.sensor_id))?.push({ t: iso(r.t), count: Number(r.count), avg: num(r.avg) })
    return { bucket: q.bucket, metric: q.metric, series: [...bySensor].map(([sensor_id, points]) => ({ sensor_id, points })) }
  }

  async export(q: ExportQuery): Promise<Readable> {
    const labels = { db: 'duckdb', op: 'export' }
    const end = this.metrics.dbDuration.startTimer(labels)
    let stream: Readable
    try {
      stream = await exportStream(this.store, q, end)
    } catch (e) {
      end()
      this.metrics.dbErrors.inc(labels)
      throw e
    }
    // A window failing mid-stream cuts the download; it is a database failure all the same.
    stream.once('error', () => this.metrics.dbErrors.inc(labels))
    this.metrics.queries.inc({ type: 'export' })
    return stream
  }

  snapshot(q: { file: string }): Promise<SnapshotTaken> {
    return this.store.snapshot(q.file)
  }

  async info(): Promise<EngineInfo> {
    const s = this.store.stats()
    return { rows: await this.store.totalRows(), hot_rows: s.hotRows, partitions: s.partitions }
  }

  ping(): Promise<void> {
    return this.store.ping()
  }
}
