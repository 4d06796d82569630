// Benchmark 4: analytics over 10 M telemetry rows (quick: 1 M) on disk: 1000 sensors, 7 days. The
// service side is the real layout (rows fed through TelemetryStore.append and compacted as the
// worker does) queried with the service's own SQL (analytics-queries.ts); beside it, in the same
// run and on the same rows: PostgreSQL 15 with a (sensor_id, ts) btree index, a plain DuckDB table
// in arrival order, and one DuckDB table sorted like a single compacted partition. Runs of the
// systems are interleaved so machine noise falls on all of them alike.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api'
import pg from 'pg'
import { BUCKETS, timeseriesQuery, type Range, type SqlQuery } from '../../services/ocean/src/analytics/analytics-queries.ts'
import { startPostgres } from '../lib/loopback-servers.ts'
import { connectPg, dataSpec, duckdbChecksum, loadDuckDbTables, loadPostgres, loadService, pgChecksum, sensorName, type DataSpec } from './analytics-data.ts'
import { median, percentile } from './http-load.ts'
import { startOcean, track } from './processes.ts'
import { duckdbProfile, pgExecutionMs } from './query-profile.ts'
import { atLeast, atMost, fmt, row, type BenchContext } from './report.ts'

type Kind = 'day' | 'full' | 'all'
const KINDS: Record<Kind, string> = {
  day: "one sensor's 5-min buckets, last 24 h",
  full: "one sensor's 5-min buckets, full 7 days",
  all: "all sensors' 5-min buckets, full 7 days",
}
const SYSTEMS = ['ocean', 'pg', 'plain', 'sorted'] as const
type System = (typeof SYSTEMS)[number]
const SYSTEM_NAMES: Record<System, string> = {
  ocean: 'Ocean store (hot table + sorted partitions)',
  pg: 'PostgreSQL 15, (sensor_id, ts) btree',
  plain: 'plain DuckDB table, arrival order',
  sorted: 'one DuckDB table sorted by (hash(sensor_id), ts)',
}
/** Ten sensors spread over the id range; runs rotate through them. */
const SENSORS = Array.from({ length: 10 }, (_, j) => sensorName(j * 101))

/** The all-sensors series' bucket: 5 minutes, as the one-sensor series. */
const ALL_BUCKET = '5m' as const
const ALL_BUCKET_MS = BUCKETS[ALL_BUCKET]
/** No service route aggregates all sensors; this is the service's bucket expression over its view. */
const allSensorsSql = `SELECT sensor_id, epoch_ms(ts) // ${ALL_BUCKET_MS} * ${ALL_BUCKET_MS} AS t, count(value) AS count, min(value) AS min, max(value) AS max, avg(value) AS avg
  FROM telemetry GROUP BY sensor_id, t ORDER BY sensor_id, t`

function range(kind: Kind, spec: DataSpec): Range {
  return kind === 'day' ? { from: spec.endMs - 86_400_000, to: spec.endMs } : {}
}

function duckdbQuery(system: 'ocean' | 'sorted' | 'plain', kind: Kind, sensor: string, spec: DataSpec): SqlQuery {
  if (kind === 'all') return { sql: allSensorsSql, params: {} }
  const q = timeseriesQuery(sensor, 'value', '5m', range(kind, spec))
  // The plain table has no sort key column: the same query with the sensor filter alone.
  return system === 'plain' ? { sql: q.sql.replace('sk = hash($sensor) AND ', ''), params: q.params } : q
}

const pgTs = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '')

function pgQuery(kind: Kind, sensor: string, spec: DataSpec): pg.QueryConfig {
  if (kind === 'all') {
    return { name: 'all', text: `SELECT sensor_id, date_bin('${ALL_BUCKET_MS} milliseconds', ts, timestamp '1970-01-01') AS t, count(value) AS count, min(value) AS min, max(value) AS max,
      avg(value) AS avg FROM telemetry GROUP BY sensor_id, t ORDER BY sensor_id, t` }
  }
  const r = range(kind, spec)
  const within = kind === 'day' ? ' AND ts >= $2 AND ts < $3' : ''
  return {
    name: kind,
    text: `SELECT date_bin('5 minutes', ts, timestamp '1970-01-01') AS t, count(value) AS count, min(value) AS min, max(value) AS max, avg(value) AS avg
      FROM telemetry WHERE sensor_id = $1${within} GROUP BY t ORDER BY t`,
    values: kind === 'day' ? [sensor, pgTs(r.from as number), pgTs(r.to as number)] : [sensor],
  }
}

/** Runs one query and returns (buckets, events counted): the same on every system, or a wrong answer. */
type Runner = (kind: Kind, sensor: string) => Promise<[number, number]>

/** A series' answer: (buckets, events counted). */
function answerOf(rows: Array<{ count?: unknown }>): [number, number] {
  return [rows.length, rows.reduce((s, r) => s + Number(r.count), 0)]
}

async function duckdbRun(conn: DuckDBConnection, q: SqlQuery): Promise<[number, number]> {
  return answerOf((await conn.runAndReadAll(q.sql, q.params as Record<string, DuckDBValue>)).getRowObjectsJS())
}

interface Series {
  median: number
  p95: number
  runs: number
  /** Buckets the last timed query returned (the same on every system). */
  buckets?: number
}

/** Interleaves the systems' runs: warm-up, then up to `runs` timed runs each, within maxMs. */
async function timeKind(ctx: BenchContext, kind: Kind, runners: Record<System, Runner>, warm: number, runs: number, maxMs: number): Promise<Record<System, Series>> {
  const times: Record<System, number[]> = { ocean: [], pg: [], plain: [], sorted: [] }
  const answers = new Map<string, string>()
  let lastAnswer = ''
  const t0 = performance.now()
  for (let r = 0; r < warm + runs && (r < warm + 3 || performance.now() - t0 < maxMs); r++) {
    const sensor = SENSORS[r % SENSORS.length] as string
    for (const system of SYSTEMS) {
      const a = performance.now()
      const answer = (await runners[system](kind, sensor)).join('/')
      const ms = performance.now() - a
      if (r >= warm) times[system].push(ms)
      const expected = answers.get(sensor) ?? answer
      if (answer !== expected) throw new Error(`${kind} for ${sensor}: ${system} returned buckets/events ${answer}, another system ${expected}`)
      answers.set(sensor, answer)
      lastAnswer = answer
    }
  }
  const out = {} as Record<System, Series>
  for (const system of SYSTEMS) {
    const sorted = Float64Array.from(times[system]).sort()
    out[system] = { median: percentile(sorted, 50), p95: percentile(sorted, 95), runs: sorted.length, buckets: Number(lastAnswer.split('/')[0]) }
  }
  ctx.log(`  ${KINDS[kind]}: ${SYSTEMS.map((s) => `${s} ${fmt(out[s].median)}/${fmt(out[s].p95)} ms`).join(', ')} (median/p95, ${out.ocean.runs} runs)`)
  return out
}

export async function analyticsBench(ctx: BenchContext): Promise<void> {
  const spec = dataSpec(ctx.quick ? 1_000_000 : 10_000_000)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-analytics-'))
  // Registered first, so the runner's stopAll() removes it last, after closing what uses it.
  const removeDir = track(async () => fs.rmSync(dir, { recursive: true, force: true }))
  const details: Record<string, unknown> = { spec }
  ctx.details.analytics = details
  {
    ctx.log(`4: loading ${fmt(spec.rows)} rows through TelemetryStore.append + compaction`)
    const svc = await loadService(path.join(dir, 'ocean'), spec)
    const closeStore = track(async () => svc.store.close())
    ctx.log(`  ${(svc.ms / 1000).toFixed(1)} s (${fmt((spec.rows / svc.ms) * 1000)} rows/s; compaction ${(svc.compactionMs / 1000).toFixed(1)} s), ${svc.partitions} partitions`)
    ctx.log('4: plain and sorted DuckDB tables (CREATE TABLE AS over range())')
    const duck = await loadDuckDbTables(dir, spec, '256MB', 2)
    const closeDuck = track(async () => duck.close())
    ctx.log(`  ${(duck.ms / 1000).toFixed(1)} s`)
    ctx.log('4: PostgreSQL 15 (INSERT ... SELECT FROM generate_series, then the index and VACUUM ANALYZE)')
    const server = await startPostgres()
    const stopPg = track(() => server.stop())
    const client = await connectPg(server.url)
    const endClient = track(() => client.end())
    const pgLoad = await loadPostgres(client, spec)
    // The all-sensors series hash-aggregates up to 2 M groups (1000 sensors x 2016 five-minute
    // buckets; quick: 1 M, one row each): at the 4 MB default it would spill. DuckDB has 256 MB.
    await client.query(`SET work_mem = '256MB'`)
    const pgSettings = (await client.query<{ name: string; setting: string }>(`SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'shared_buffers', 'work_mem', 'jit', 'max_parallel_workers_per_gather')`)).rows
    ctx.log(`  insert ${(pgLoad.insertMs / 1000).toFixed(1)} s, index ${(pgLoad.indexMs / 1000).toFixed(1)} s, vacuum analyze ${(pgLoad.vacuumMs / 1000).toFixed(1)} s`)
    Object.assign(details, { serviceLoad: { ms: svc.ms, compactionMs: svc.compactionMs, partitions: svc.partitions }, duckdbLoadMs: duck.ms, pgLoad, pgSettings })

    const sums = {
      ocean: await svc.store.withReader((c) => duckdbChecksum(c, spec)),
      pg: await pgChecksum(client, spec),
      plain: await duckdbChecksum(duck.plain, spec),
      sorted: await duckdbChecksum(duck.sorted, spec),
    }
    details.checksums = sums
    for (const s of SYSTEMS) {
      if (JSON.stringify(sums[s]) !== JSON.stringify(sums.ocean)) throw new Error(`${s} does not hold the same rows: ${JSON.stringify(sums[s])} vs ${JSON.stringify(sums.ocean)}`)
    }
    ctx.log(`  same rows everywhere: ${JSON.stringify(sums.ocean)}`)

    const runners: Record<System, Runner> = {
      // The service's own path (LocalAnalytics): a reader's prepared statement, rows as JavaScript values.
      ocean: async (kind, sensor) => {
        const q = duckdbQuery('ocean', kind, sensor, spec)
        return answerOf(await svc.store.readAll(q.sql, q.params as Record<string, DuckDBValue>))
      },
      sorted: (kind, sensor) => duckdbRun(duck.sorted, duckdbQuery('sorted', kind, sensor, spec)),
      plain: (kind, sensor) => duckdbRun(duck.plain, duckdbQuery('plain', kind, sensor, spec)),
      pg: async (kind, sensor) => answerOf((await client.query<{ count: string }>(pgQuery(kind, sensor, spec))).rows),
    }
    const results = {
      day: await timeKind(ctx, 'day', runners, 5, 30, 120_000),
      full: await timeKind(ctx, 'full', runners, 5, 30, 120_000),
      all: await timeKind(ctx, 'all', runners, 2, ctx.quick ? 5 : 10, 240_000),
    }
    // Where the time goes: the engines' own figures, without turning rows into JavaScript values.
    const prof = await svc.store.withReader((c) => duckdbProfile(c, duckdbQuery('ocean', 'full', SENSORS[1] as string, spec)))
    const profAll = await svc.store.withReader((c) => duckdbProfile(c, duckdbQuery('ocean', 'all', '', spec)))
    const pgFull = await pgExecutionMs(client, pgQuery('full', SENSORS[1] as string, spec))
    const pgAll = await pgExecutionMs(client, pgQuery('all', '', spec))
    ctx.log(`  profile of the service's one-sensor full-range query (ms): ${JSON.stringify(prof)}; PG EXPLAIN ANALYZE ${pgFull} ms`)
    ctx.log(`  profile of the all-sensors query (ms): ${JSON.stringify(profAll)}; PG EXPLAIN ANALYZE ${pgAll} ms`)
    Object.assign(details, { results, serviceProfile: { full: prof, all: profAll }, pgExecutionMs: { full: pgFull, all: pgAll } })
    await endClient()
    await stopPg()
    await closeDuck()
    await closeStore()

    ctx.log('4: the same one-sensor queries through HTTP (GET .../timeseries, Ocean as one process)')
    const ocean = await startOcean(0, { dataDir: path.join(dir, 'ocean') })
    const http: Partial<Record<Kind, Series>> = {}
    try {
      for (const kind of ['day', 'full'] as const) {
        const r = range(kind, spec)
        const qs = kind === 'day' ? `&from=${r.from}&to=${r.to}` : ''
        const ms: number[] = []
        for (let i = 0; i < 35; i++) {
          const a = performance.now()
          await ocean.get(`/analytics/sensor/${SENSORS[i % SENSORS.length]}/timeseries?bucket=5m${qs}`)
          if (i >= 5) ms.push(performance.now() - a)
        }
        http[kind] = { median: median(ms), p95: percentile(Float64Array.from(ms).sort(), 95), runs: ms.length }
      }
    } finally {
      await ocean.stop()
    }
    details.http = http
    ctx.log(`  day ${fmt(http.day?.median ?? NaN)} ms, full ${fmt(http.full?.median ?? NaN)} ms (median)`)

    const dominant = Object.entries(prof)
      .filter(([k]) => k !== 'total')
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')
    for (const kind of ['day', 'full'] as const) {
      const s = results[kind]
      ctx.rows.push(
        row('4', `${KINDS[kind]}, median`, s.ocean.median, 'ms', {
          baseline: { name: SYSTEM_NAMES.pg, value: s.pg.median },
          goals: [atMost(s.ocean.median, 2, '≤ 2 ms')],
          note: `p95 ${fmt(s.ocean.p95)} ms (PG ${fmt(s.pg.p95)}), ${s.ocean.runs} runs${kind === 'full' ? `; DuckDB profile (ms): total ${prof.total}, top: ${dominant}; PG EXPLAIN ANALYZE ${pgFull}` : ''}`,
        }),
      )
      for (const other of ['plain', 'sorted'] as const) {
        ctx.rows.push(row('4', `${KINDS[kind]}, median, vs ${other === 'plain' ? 'plain DuckDB' : 'one sorted table'}`, s.ocean.median, 'ms', { baseline: { name: SYSTEM_NAMES[other], value: s[other].median } }))
      }
      const h = http[kind]
      if (h) ctx.rows.push(row('4', `${KINDS[kind]}, through HTTP, median`, h.median, 'ms', { baseline: { name: 'same query in process', value: s.ocean.median } }))
    }
    const a = results.all
    const speedup = a.pg.median / a.ocean.median
    ctx.rows.push(
      row('4', `${KINDS.all}, median`, a.ocean.median, 'ms', {
        baseline: { name: SYSTEM_NAMES.pg, value: a.pg.median },
        ratio: `${fmt(speedup)}x faster`,
        goals: [atLeast(speedup, 5, '≥ 5x faster than PG')],
        note: `p95 ${fmt(a.ocean.p95)} ms (PG ${fmt(a.pg.p95)}), ${a.ocean.runs} runs, ${fmt(a.ocean.buckets ?? NaN)} rows returned; inside the engines: DuckDB ${profAll.total} ms, PG ${pgAll} ms (${fmt(pgAll / profAll.total)}x); the timed runs also turn the rows into JS values`,
      }),
      row('4', `${KINDS.all}, median, vs plain DuckDB`, a.ocean.median, 'ms', { baseline: { name: SYSTEM_NAMES.plain, value: a.plain.median } }),
      row('4', `loading ${fmt(spec.rows)} rows: service append + compaction`, (spec.rows / svc.ms) * 1000, 'rows/s', {
        baseline: { name: 'PG INSERT from generate_series + index + VACUUM', value: (spec.rows / (pgLoad.insertMs + pgLoad.indexMs + pgLoad.vacuumMs)) * 1000 },
        note: `${(svc.ms / 1000).toFixed(1)} s incl. ${(svc.compactionMs / 1000).toFixed(1)} s compaction, ${svc.partitions} partitions`,
      }),
    )
  }
  await removeDir()
}
