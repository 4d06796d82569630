// SQL for the analytics routes, built from validated parameters. Pure: the tests check the SQL
// and its parameters without a database. Every user value is a bound parameter, except the few
// integers and enum choices DuckDB does not accept as parameters (window frames, COPY targets),
// which are validated and inlined.
export const BUCKETS = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '1d': 86_400_000 } as const
export type Bucket = keyof typeof BUCKETS

export interface Range {
  from?: number
  to?: number
}

export interface SqlQuery {
  sql: string
  params: Record<string, string | bigint | number>
}

const READING = /^[A-Za-z0-9_.-]{1,64}$/

/** The measured expression: the event's value, or one named reading from its data. */
export function metricExpr(metric: string, params: SqlQuery['params']): string {
  if (metric === 'value') return 'value'
  if (!READING.test(metric)) throw new RangeError(`metric ${JSON.stringify(metric)} is not "value" or a reading name`)
  params.path = `$."${metric}"`
  return 'TRY_CAST(json_extract_string(data, $path) AS DOUBLE)'
}

/** One sensor: the hash sort key lets DuckDB skip every row group of other sensors. */
function sensorFilter(sensor: string, params: SqlQuery['params'], range: Range): string {
  params.sensor = sensor
  return `sk = hash($sensor) AND sensor_id = $sensor${rangeFilter(params, range)}`
}

function rangeFilter(params: SqlQuery['params'], range: Range): string {
  let sql = ''
  if (range.from !== undefined) {
    params.from = BigInt(range.from) * 1000n
    sql += ' AND ts >= make_timestamp($from::BIGINT)'
  }
  if (range.to !== undefined) {
    params.to = BigInt(range.to) * 1000n
    sql += ' AND ts < make_timestamp($to::BIGINT)'
  }
  return sql
}

export function statsQuery(sensor: string, metric: string, range: Range): SqlQuery {
  const params: SqlQuery['params'] = {}
  const m = metricExpr(metric, params)
  const sql = `SELECT count(m) AS count, min(m) AS min, max(m) AS max, avg(m) AS avg, stddev_samp(m) AS stddev,
      quantile_cont(m, 0.5) AS p50, quantile_cont(m, 0.95) AS p95, quantile_cont(m, 0.99) AS p99
    FROM (SELECT ${m} AS m FROM telemetry WHERE ${sensorFilter(sensor, params, range)})`
  return { sql, params }
}

export function timeseriesQuery(sensor: string, metric: string, bucket: Bucket, range: Range): SqlQuery {
  const params: SqlQuery['params'] = {}
  const m = metricExpr(metric, params)
  const width = BUCKETS[bucket]
  // Integer arithmetic on epoch milliseconds: measured faster than time_bucket() here.
  const sql = `SELECT epoch_ms(ts) // ${width} * ${width} AS t, count(m) AS count, min(m) AS min, max(m) AS max, avg(m) AS avg
    FROM (SELECT ts, ${m} AS m FROM telemetry WHERE ${sensorFilter(sensor, params, range)})
    GROUP BY t ORDER BY t`
  return { sql, params }
}

export function compareQuery(sensors: string[], metric: string, bucket: Bucket, range: Range): SqlQuery {
  const params: SqlQuery['params'] = {}
  const m = metricExpr(metric, params)
  const width = BUCKETS[bucket]
  const names = sensors.map((s, i) => {
    params[`s${i}`] = s
    return `$s${i}`
  })
  const sql = `SELECT sensor_id, epoch_ms(ts) // ${width} * ${width} AS t, count(m) AS count, avg(m) AS avg
    FROM (SELECT sensor_id, ts, ${m} AS m FROM telemetry
          WHERE sk IN (${names.map((n) => `hash(${n})`).join(', ')}) AND sensor_id IN (${names.join(', ')})${rangeFilter(params, range)})
    GROUP BY sensor_id, t ORDER BY sensor_id, t`
  return { sql, params }
}

export function anomaliesQuery(sensor: string, metric: string, window: number, threshold: number, limit: number, range: Range): SqlQuery {
  if (!Number.isInteger(window) || window < 2 || window > 10_000) throw new RangeError('window must be an integer from 2 to 10000')
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new RangeError('limit must be an integer from 1 to 10000')
  const params: SqlQuery['params'] = { threshold }
  const m = metricExpr(metric, params)
  // Each point is scored against the `window` points before it, so a spike does not hide itself.
  const sql = `SELECT epoch_ms(ts) AS t, m AS value, mu AS mean, sd AS stddev, (m - mu) / sd AS z
    FROM (SELECT ts, m, avg(m) OVER w AS mu, stddev_samp(m) OVER w AS sd
          FROM (SELECT ts, ${m} AS m FROM telemetry WHERE ${sensorFilter(sensor, params, range)}) WHERE m IS NOT NULL
          WINDOW w AS (ORDER BY ts ROWS BETWEEN ${window} PRECEDING AND 1 PRECEDING))
    WHERE sd > 0 AND abs((m - mu) / sd) > $threshold
    ORDER BY t LIMIT ${limit}`
  return { sql, params }
}
