// The telemetry the analytics benchmark queries: `sensors` sensors, one reading each per step over
// the 7 days before `endMs`, in arrival order (time-major). Every value is a pure function of
// (sensor i, step k), so the service (fed in JavaScript through its own store), PostgreSQL and a
// plain DuckDB table (both generated server-side with the same formula) hold the same rows, which a
// checksum over each confirms before anything is timed.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api'
import pg from 'pg'
import { loadConfig } from '../../services/ocean/src/config.ts'
import { storeOptions } from '../../services/ocean/src/engine.ts'
import { TelemetryStore, type BufferedEntry, type PackedEvent } from '../../services/ocean/src/stores/duckdb-store.ts'

export interface DataSpec {
  rows: number
  sensors: number
  steps: number
  startMs: number
  endMs: number
  stepMs: number
}

export function dataSpec(rows: number, sensors = 1000): DataSpec {
  const endMs = Math.floor(Date.now() / 3_600_000) * 3_600_000
  const steps = Math.ceil(rows / sensors)
  const startMs = endMs - 7 * 86_400_000
  return { rows: steps * sensors, sensors, steps, startMs, endMs, stepMs: Math.floor((7 * 86_400_000) / steps) }
}

export const sensorName = (i: number) => `sensor-${String(i).padStart(4, '0')}`

/** The n-th row in arrival order (n = k * sensors + i), in JavaScript. */
function event(spec: DataSpec, n: number): PackedEvent {
  const k = Math.floor(n / spec.sensors)
  const i = n % spec.sensors
  return [sensorName(i), spec.startMs + k * spec.stepMs + ((i * 1009) % spec.stepMs), ((i * 7919 + k * 104729) % 100_000) / 1000, null]
}

/** The same formula in SQL over a column n (integer division is `/` in PostgreSQL, `//` in DuckDB). */
function rowSql(spec: DataSpec, cast: { text: string; float: string; intDiv: string }): { sensor: string; ms: string; value: string } {
  const k = `(n ${cast.intDiv} ${spec.sensors})`
  const i = `(n % ${spec.sensors})`
  return {
    sensor: `'sensor-' || lpad(${i}::${cast.text}, 4, '0')`,
    ms: `(${spec.startMs} + ${k} * ${spec.stepMs} + (${i} * 1009) % ${spec.stepMs})`,
    value: `((${i} * 7919 + ${k} * 104729) % 100000)::${cast.float} / 1000`,
  }
}

export interface Checksum {
  rows: string
  valueSum: string
  tsSum: string
  sensors: string
}

const checksumSql = (spec: DataSpec, epochMs: string) =>
  `SELECT count(*)::VARCHAR AS rows, sum(round(value * 1000)::BIGINT)::VARCHAR AS "valueSum",
          sum(${epochMs} - ${spec.startMs})::VARCHAR AS "tsSum", count(DISTINCT sensor_id)::VARCHAR AS sensors FROM telemetry`

export async function duckdbChecksum(conn: DuckDBConnection, spec: DataSpec): Promise<Checksum> {
  const r = await conn.runAndReadAll(checksumSql(spec, 'epoch_ms(ts)'))
  return r.getRowObjectsJS()[0] as unknown as Checksum
}

export async function pgChecksum(client: pg.Client, spec: DataSpec): Promise<Checksum> {
  const r = await client.query<Checksum>(checksumSql(spec, '(extract(epoch FROM ts) * 1000)::BIGINT'))
  return r.rows[0] as Checksum
}

export interface ServiceLoad {
  store: TelemetryStore
  ms: number
  compactionMs: number
  partitions: number
}

/**
 * Feeds the rows through the service's own TelemetryStore as the worker does: entries of 1000
 * events (OCEAN_ENTRY_EVENTS), 20 entries per transaction (one XREADGROUP), compact() after each;
 * finally the compaction the worker runs once the hot table is OCEAN_HOT_MAX_AGE_MS old.
 */
export async function loadService(dataDir: string, spec: DataSpec): Promise<ServiceLoad> {
  const config = loadConfig({ OCEAN_API_KEY: 'bench-only-0123456789', OCEAN_DATA_DIR: dataDir })
  const store = await TelemetryStore.open(storeOptions(config))
  const t0 = performance.now()
  let compactionMs = 0
  let entryId = 0
  for (let n = 0; n < spec.rows; ) {
    const entries: BufferedEntry[] = []
    for (let e = 0; e < 20 && n < spec.rows; e++) {
      const events: PackedEvent[] = []
      for (let j = 0; j < config.entryEvents && n < spec.rows; j++) events.push(event(spec, n++))
      entries.push({ id: `${spec.endMs}-${entryId++}`, events })
    }
    await store.append(entries)
    const c0 = performance.now()
    await store.compact()
    compactionMs += performance.now() - c0
  }
  const c0 = performance.now()
  while ((await store.compact(Date.now() + config.hotMaxAgeMs)).kind !== 'none');
  compactionMs += performance.now() - c0
  return { store, ms: performance.now() - t0, compactionMs, partitions: store.stats().partitions }
}

export interface DuckDbTables {
  /** The rows in arrival order, no index: what "just put it in DuckDB" gives. */
  plain: DuckDBConnection
  /** One table of the same rows sorted by (hash(sensor_id), ts), with the service's columns. */
  sorted: DuckDBConnection
  ms: number
  close(): void
}

/** Both DuckDB baselines, each in its own file with the service's memory limit and threads. */
export async function loadDuckDbTables(dir: string, spec: DataSpec, memoryLimit: string, threads: number): Promise<DuckDbTables> {
  const t0 = performance.now()
  const r = rowSql(spec, { text: 'VARCHAR', float: 'DOUBLE', intDiv: '//' })
  const plainDb = await DuckDBInstance.create(`${dir}/plain.duckdb`, { memory_limit: '2GB', threads: String(threads) })
  const plain = await plainDb.connect()
  await plain.run(`CREATE TABLE telemetry AS SELECT ${r.sensor} AS sensor_id, make_timestamp(${r.ms} * 1000) AS ts, ${r.value} AS value,
    NULL::VARCHAR AS data FROM range(${spec.rows}) t(n) ORDER BY n`)
  await plain.run(`ATTACH '${dir}/sorted.duckdb' AS sorted`)
  await plain.run('CREATE TABLE sorted.telemetry AS SELECT hash(sensor_id) AS sk, sensor_id, ts, value, data FROM telemetry ORDER BY sk, ts')
  await plain.run('DETACH sorted')
  await plain.run('CHECKPOINT')
  await plain.run(`SET memory_limit = '${memoryLimit}'`)
  const sortedDb = await DuckDBInstance.create(`${dir}/sorted.duckdb`, { memory_limit: memoryLimit, threads: String(threads) })
  const sorted = await sortedDb.connect()
  return {
    plain,
    sorted,
    ms: performance.now() - t0,
    close() {
      plain.closeSync()
      sorted.closeSync()
      plainDb.closeSync()
      sortedDb.closeSync()
    },
  }
}

export interface PgLoad {
  insertMs: number
  indexMs: number
  vacuumMs: number
}

/** PostgreSQL: rows generated server-side (INSERT ... SELECT FROM generate_series), then the index. */
export async function loadPostgres(client: pg.Client, spec: DataSpec): Promise<PgLoad> {
  const r = rowSql(spec, { text: 'text', float: 'float8', intDiv: '/' })
  await client.query('CREATE TABLE telemetry (sensor_id text NOT NULL, ts timestamp NOT NULL, value double precision, data text)')
  const t0 = performance.now()
  await client.query(`INSERT INTO telemetry SELECT ${r.sensor}, timestamp '1970-01-01' + ${r.ms} * interval '1 millisecond', ${r.value}, NULL
    FROM generate_series(0::bigint, ${spec.rows - 1}) n`)
  const t1 = performance.now()
  await client.query('CREATE INDEX telemetry_sensor_ts ON telemetry (sensor_id, ts)')
  const t2 = performance.now()
  await client.query('VACUUM ANALYZE telemetry')
  return { insertMs: t1 - t0, indexMs: t2 - t1, vacuumMs: performance.now() - t2 }
}

/** The port opens before PostgreSQL accepts sessions ("the database system is starting up"). */
export async function connectPg(url: string): Promise<pg.Client> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const client = new pg.Client({ connectionString: url })
    try {
      await client.connect()
      return client
    } catch (e) {
      await client.end().catch(() => undefined)
      if ((e as { code?: string }).code !== '57P03' || Date.now() > deadline) throw e
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}
