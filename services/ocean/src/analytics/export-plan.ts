// How an export is cut into time windows, and the SQL of each step. Pure: the unit tests check the
// windows and the SQL without a database.
//
// Why windows: DuckDB 1.5 does not spill the sort of the whole table to disk — ORDER BY ts over
// 4-5 M rows with their strings ran out of memory at the service's 256 MB limit, with or without
// LIMIT. Sorting one window of at most EXPORT_WINDOW_ROWS rows at a time keeps memory bounded by
// the window, not the data: the windows come from a count per hour (per minute, second or
// millisecond where an hour holds more), and are written one after the other, in time order.
import type { Range } from './analytics-queries.ts'

export type ExportFormat = 'parquet' | 'csv' | 'json' | 'jsonl'
export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'jsonl', 'json', 'parquet']

/**
 * The most one window sorts at once: rows, and bytes of text (sensor ids and data). 250k rows of
 * short ids sorted in ~30 MB of DuckDB memory; events carrying large data are cut by bytes instead.
 */
export const EXPORT_WINDOW: WindowLimit = { rows: 250_000, bytes: 32 * 1024 * 1024 }

export interface WindowLimit {
  rows: number
  bytes: number
}

export const UNITS = [
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1000],
  ['millisecond', 1],
] as const

/** Rows with from <= ts < to (ms since the epoch), and the bytes of their text. */
export interface Span {
  from: number
  to: number
  rows: number
  bytes: number
}

export interface Bucket {
  t: number
  rows: number
  bytes: number
}

/** COPY and ATTACH take no parameters, so these inline their (validated, quoted) values. */
export function literal(s: string): string {
  return `'${s.replaceAll("'", "''")}'`
}

function ms(n: number): string {
  if (!Number.isSafeInteger(n)) throw new RangeError(`time ${n} is not an integer of milliseconds`)
  return `make_timestamp(${BigInt(n) * 1000n})`
}

/** The export's own filter: sensor and range, and the window when there is one. */
export function exportWhere(sensor: string | undefined, range: Range, span?: Span): string {
  const where: string[] = []
  if (sensor !== undefined) where.push(`sk = hash(${literal(sensor)}) AND sensor_id = ${literal(sensor)}`)
  if (range.from !== undefined) where.push(`ts >= ${ms(range.from)}`)
  if (range.to !== undefined) where.push(`ts < ${ms(range.to)}`)
  if (span) where.push(`ts >= ${ms(span.from)} AND ts < ${ms(span.to)}`)
  return where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
}

/** Rows per time bucket of `unit` (inside `span` when refining one that held too many). */
export function bucketsQuery(unit: (typeof UNITS)[number][0], sensor: string | undefined, range: Range, span?: Span): string {
  return `SELECT epoch_ms(date_trunc('${unit}', ts)) AS t, count(*) AS rows, sum(strlen(sensor_id) + coalesce(strlen(data), 0)) AS bytes
    FROM telemetry ${exportWhere(sensor, range, span)} GROUP BY t ORDER BY t`
}

export function over(s: Span | Bucket, max: WindowLimit): boolean {
  return s.rows > max.rows || s.bytes > max.bytes
}

/**
 * Consecutive buckets joined into spans within `max`; a bucket over `max` is a span of its own
 * (the planner counts it again at a finer unit).
 */
export function groupBuckets(buckets: readonly Bucket[], unitMs: number, max: WindowLimit): Span[] {
  const spans: Span[] = []
  let open: Span | null = null
  for (const b of buckets) {
    if (open && !over({ ...b, rows: open.rows + b.rows, bytes: open.bytes + b.bytes }, max)) {
      open.to = b.t + unitMs
      open.rows += b.rows
      open.bytes += b.bytes
      continue
    }
    // Windows touch: rows that arrive in a gap between two while the export runs are still in one.
    if (open) open.to = b.t
    open = { from: b.t, to: b.t + unitMs, rows: b.rows, bytes: b.bytes }
    spans.push(open)
  }
  return spans
}

/** The spans up to the one where `limit` rows are reached (later ones would write nothing). */
export function untilLimit(spans: readonly Span[], limit: number): Span[] {
  const out: Span[] = []
  let rows = 0
  for (const s of spans) {
    if (rows >= limit) break
    out.push(s)
    rows += s.rows
  }
  return out
}

/**
 * The export's windows, in time order: hours first, and any span over `max` counted again by
 * minute, then second, then millisecond (rows sharing one millisecond are one window whatever
 * their number).
 */
export async function planWindows(count: (sql: string) => Promise<Bucket[]>, sensor: string | undefined, range: Range, limit: number, max = EXPORT_WINDOW): Promise<Span[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer')
  const split = async (level: number, within?: Span): Promise<Span[]> => {
    const [unit, unitMs] = UNITS[level] as (typeof UNITS)[number]
    const spans = groupBuckets(await count(bucketsQuery(unit, sensor, range, within)), unitMs, max)
    const out: Span[] = []
    for (const s of spans) out.push(...(over(s, max) && level + 1 < UNITS.length ? await split(level + 1, s) : [s]))
    return out
  }
  return untilLimit(await split(0), limit)
}

const COLUMNS = `sensor_id, strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ') AS timestamp, value, data`

/** One window's rows, in the export's order. */
export function windowSelect(sensor: string | undefined, range: Range, span: Span | undefined, limit: number): string {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer')
  return `SELECT ${COLUMNS} FROM telemetry ${exportWhere(sensor, range, span)} ORDER BY ts, sensor_id LIMIT ${limit}`
}

/** CSV (the header in the first window only) or JSON lines, one window into `target`. */
export function windowCopy(target: string, format: 'csv' | 'jsonl', select: string, first: boolean): string {
  const options = format === 'csv' ? `FORMAT csv, HEADER ${first}` : 'FORMAT json'
  return `COPY (${select}) TO ${literal(target)} (${options})`
}

/** Parquet is one file: the windows go, in order, into a staging table that is then copied out. */
export function stagingSql(schema: string, file: string): { attach: string; create: string; insert: (select: string) => string; checkpoint: string; copy: (target: string) => string; detach: string } {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new RangeError(`bad staging schema name ${schema}`)
  return {
    attach: `ATTACH ${literal(file)} AS ${schema}`,
    create: `CREATE TABLE ${schema}.rows (sensor_id VARCHAR, timestamp VARCHAR, value DOUBLE, data VARCHAR)`,
    insert: (select) => `INSERT INTO ${schema}.rows ${select}`,
    checkpoint: `CHECKPOINT ${schema}`,
    copy: (target) => `COPY ${schema}.rows TO ${literal(target)} (FORMAT parquet)`,
    detach: `DETACH ${schema}`,
  }
}
