// What the API needs from the analytics engine. Implemented in-process over the DuckDB reader
// connection (the process that owns the file), and by a client that forwards to that process.
import type { SnapshotTaken } from '../stores/snapshots.ts'
import type { Readable } from 'node:stream'
import type { Bucket, Range } from './analytics-queries.ts'
import type { ExportFormat } from './export-plan.ts'

export interface SensorStats {
  sensor_id: string
  metric: string
  count: number
  min: number | null
  max: number | null
  avg: number | null
  stddev: number | null
  p50: number | null
  p95: number | null
  p99: number | null
}

export interface Point {
  t: string
  count: number
  min: number | null
  max: number | null
  avg: number | null
}

export interface Anomaly {
  t: string
  value: number
  mean: number
  stddev: number
  z: number
}

export interface SeriesQuery extends Range {
  sensor_id: string
  metric: string
  bucket: Bucket
}

export interface AnomalyQuery extends Range {
  sensor_id: string
  metric: string
  window: number
  threshold: number
  limit: number
}

export interface CompareQuery extends Range {
  sensor_ids: string[]
  metric: string
  bucket: Bucket
}

export interface ExportQuery extends Range {
  format: ExportFormat
  sensor_id?: string
  limit: number
}

export interface EngineInfo {
  rows: number
  hot_rows: number
  partitions: number
}

export interface Analytics {
  stats(q: Range & { sensor_id: string; metric: string }): Promise<SensorStats>
  timeseries(q: SeriesQuery): Promise<{ sensor_id: string; bucket: Bucket; metric: string; points: Point[] }>
  anomalies(q: AnomalyQuery): Promise<{ sensor_id: string; metric: string; anomalies: Anomaly[] }>
  compare(q: CompareQuery): Promise<{ bucket: Bucket; metric: string; series: { sensor_id: string; points: Pick<Point, 't' | 'count' | 'avg'>[] }[] }>
  /** The export as a stream, in bounded memory; its temporary files are removed when the stream ends or is destroyed. */
  export(q: ExportQuery): Promise<Readable>
  info(): Promise<EngineInfo>
  ping(): Promise<void>
  /** A consistent copy of the DuckDB file at `file` (under the owner's control: only it may open the file). */
  snapshot(q: { file: string }): Promise<SnapshotTaken>
}
