// The telemetry store: one DuckDB file owned by exactly one process (the ingest worker).
// New events are appended in arrival order to a hot table; a full one is compacted into a
// partition sorted by (hash(sensor_id), ts), so one sensor's rows sit together on disk and the
// integer zone maps skip everything else. Queries read the union of all of it through a view.
// Compaction runs on a connection of its own while appends go on into the other hot table: the two
// connections never write the same table.
import fs from 'node:fs'
import path from 'node:path'
import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api'
import { nextCompaction, sliceCondition, sortKeySlices, type CompactionStep, type Partition } from './compaction-plan.ts'
import { EventChunkWriter, type BufferedEntry } from './event-chunks.ts'
import { ReaderPool } from './reader-pool.ts'
import { replaceWhole, type SnapshotTaken } from './snapshots.ts'

export type { BufferedEntry } from './event-chunks.ts'
export type { PackedEvent } from './event-columns.ts'

export interface TelemetryStoreOptions {
  dataDir: string
  memoryLimit: string
  threads: number
  hotMaxRows: number
  hotMaxAgeMs: number
  /** Wait this long for the file while another process holds its lock (default: fail at once). */
  lockWaitMs?: number
}

const COLUMNS = 'sensor_id, ts, value, data'

interface HotRows {
  rows: number
  /** Since when the table has held rows (ms; 0 while empty). */
  since: number
}

/**
 * DuckDB's library, loaded by the first store opened: only the process that owns the file maps it.
 * A static import loaded it into every process of the bundle, API processes and the supervisor too
 * (10 MB of resident library each, measured in /proc/<pid>/smaps).
 */
type DuckDB = typeof import('@duckdb/node-api')
/** node-api's own bindings: the event chunk writer copies whole columns into vectors with them. */
type Bindings = typeof import('@duckdb/node-bindings')
let duckdb: { lib: DuckDB; bindings: Bindings } | undefined
async function loadDuckDB(): Promise<{ lib: DuckDB; bindings: Bindings }> {
  duckdb ??= { lib: await import('@duckdb/node-api'), bindings: (await import('@duckdb/node-bindings')).default }
  return duckdb
}
const READERS = 4

/**
 * The two arrival-order tables: the worker appends to one while the other, full, is sorted into a
 * partition on a connection of its own (rows in both are queried, and sealed, alike).
 */
export const HOT_TABLES = ['telemetry_hot', 'telemetry_hot_b'] as const
type Hot = 0 | 1
const other = (hot: Hot): Hot => (hot === 0 ? 1 : 0)

/** Every hot row, as one relation of the table's columns (the migration checksums it). */
export const HOT_ROWS = HOT_TABLES.map((t) => `SELECT ${COLUMNS} FROM ${t}`).join(' UNION ALL ')

/** The view every query reads: the hot rows (sort key computed on the fly) and every partition. */
function viewSql(partitions: Partition[]): string {
  const branches = HOT_TABLES.map((t) => `SELECT hash(sensor_id) AS sk, ${COLUMNS} FROM ${t}`)
  for (const p of partitions) branches.push(`SELECT sk, ${COLUMNS} FROM ${p.name}`)
  return `CREATE OR REPLACE VIEW telemetry AS ${branches.join(' UNION ALL ')}`
}

export class TelemetryStore {
  /** Rows in each hot table. */
  private readonly hot: [HotRows, HotRows] = [{ rows: 0, since: 0 }, { rows: 0, since: 0 }]
  /** The hot table appends go to. */
  private active: Hot = 0
  /** The compaction step running on the compactor connection, if one is. */
  private compacting: Promise<unknown> | null = null
  private partitions: Partition[] = []
  private nextPartition = 1

  private constructor(
    private readonly lib: DuckDB,
    private readonly chunks: EventChunkWriter,
    private readonly instance: DuckDBInstance,
    /** The writer: appends and the entry ids. */
    private readonly writer: DuckDBConnection,
    /** Compaction's own connection: it sorts and merges while the writer appends (they touch different tables). */
    private readonly compactor: DuckDBConnection,
    /** Readers for analytics: each sees committed data only (MVCC) and runs one query at a time. */
    private readonly readers: ReaderPool,
    private readonly opts: TelemetryStoreOptions,
  ) {
  }

  static async open(opts: TelemetryStoreOptions): Promise<TelemetryStore> {
    fs.mkdirSync(opts.dataDir, { recursive: true })
    const tmp = path.join(opts.dataDir, 'duckdb-tmp')
    const { lib, bindings } = await loadDuckDB()
    const instance = await openWhenFree(lib, path.join(opts.dataDir, 'telemetry.duckdb'), { memory_limit: opts.memoryLimit, threads: String(opts.threads), temp_directory: tmp }, opts.lockWaitMs ?? 0)
    const writer = await instance.connect()
    const compactor = await instance.connect()
    const readers = new ReaderPool(await Promise.all(Array.from({ length: READERS }, () => instance.connect())))
    const store = new TelemetryStore(lib, new EventChunkWriter(lib, bindings), instance, writer, compactor, readers, opts)
    await store.init()
    return store
  }

  private async init(): Promise<void> {
    await this.writer.run(`
      ${HOT_TABLES.map((t) => `CREATE TABLE IF NOT EXISTS ${t} (sensor_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE, data VARCHAR);`).join('\n')}
      CREATE TABLE IF NOT EXISTS telemetry_parts (name VARCHAR NOT NULL, rows BIGINT NOT NULL, created_at TIMESTAMP NOT NULL);
      CREATE TABLE IF NOT EXISTS ingested_entries (entry_id VARCHAR NOT NULL, events INTEGER NOT NULL, ingested_at TIMESTAMP NOT NULL);
    `)
    const parts = await this.writer.runAndReadAll('SELECT name, rows::DOUBLE AS rows FROM telemetry_parts ORDER BY name')
    this.partitions = parts.getRowObjectsJS().map((r) => ({ name: String(r.name), rows: Number(r.rows) }))
    this.nextPartition = 1 + Math.max(0, ...this.partitions.map((p) => Number(p.name.replace('telemetry_p', ''))))
    for (const hot of [0, 1] as const) {
      const rows = await this.count(`SELECT count(*) FROM ${HOT_TABLES[hot]}`)
      this.hot[hot] = { rows, since: rows > 0 ? Date.now() : 0 }
    }
    // Appends go on into a table that holds rows, not beside it: at most one is then left to seal.
    this.active = this.hot[0].rows === 0 && this.hot[1].rows > 0 ? 1 : 0
    await this.writer.run(viewSql(this.partitions))
  }

  private async count(sql: string, conn: DuckDBConnection = this.writer): Promise<number> {
    const r = await conn.runAndReadAll(sql)
    return Number(r.getRows()[0]?.[0] ?? 0)
  }

  /** Which of these entry ids are already stored (re-delivered after a crash). */
  async storedEntryIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set()
    const list = ids.map((id) => `'${id.replace(/[^0-9-]/g, '')}'`).join(',')
    const r = await this.writer.runAndReadAll(`SELECT entry_id FROM ingested_entries WHERE entry_id IN (${list})`)
    return new Set(r.getRows().map((row) => String(row[0])))
  }

  /** Appends the entries' events and records the entry ids, in one transaction. */
  async append(entries: BufferedEntry[]): Promise<number> {
    if (entries.length === 0) return 0
    let rows = 0
    const { DuckDBTimestampValue } = this.lib
    const hot = this.active
    await this.writer.run('BEGIN TRANSACTION')
    try {
      const events = await this.writer.createAppender(HOT_TABLES[hot])
      rows = this.chunks.append(events, entries)
      events.flushSync()
      events.closeSync()
      const ingested = await this.writer.createAppender('ingested_entries')
      const now = new DuckDBTimestampValue(BigInt(Date.now()) * 1000n)
      for (const entry of entries) {
        ingested.appendVarchar(entry.id)
        ingested.appendInteger(entry.events.length)
        ingested.appendTimestamp(now)
        ingested.endRow()
      }
      ingested.flushSync()
      ingested.closeSync()
      await this.writer.run('COMMIT')
    } catch (e) {
      await this.writer.run('ROLLBACK').catch(() => undefined)
      throw e
    }
    this.counted(hot, rows)
    return rows
  }

  private counted(hot: Hot, rows: number): void {
    const h = this.hot[hot]
    if (rows > 0 && h.rows === 0) h.since = Date.now()
    h.rows += rows
  }

  /**
   * Bulk path for the data migration (append's per-value calls cost ~1.5 µs a row): appends the rows
   * a DuckDB SELECT yields as (sensor_id, ts, value, data) — e.g. over a staged table — and records
   * `entryId`, in one transaction. Idempotent like append: an id already stored is skipped (0 rows).
   */
  async appendSelect(entryId: string, select: string): Promise<number> {
    const id = entryId.replace(/[^0-9-]/g, '')
    let rows = 0
    const hot = this.active
    await this.writer.run('BEGIN TRANSACTION')
    try {
      const seen = await this.writer.runAndReadAll(`SELECT count(*) FROM ingested_entries WHERE entry_id = '${id}'`)
      if (Number(seen.getRows()[0]?.[0] ?? 0) > 0) {
        await this.writer.run('ROLLBACK')
        return 0
      }
      const inserted = await this.writer.run(`INSERT INTO ${HOT_TABLES[hot]} (${COLUMNS}) ${select}`)
      rows = inserted.rowsChanged
      await this.writer.run(`INSERT INTO ingested_entries VALUES ('${id}', ${rows}, now())`)
      await this.writer.run('COMMIT')
    } catch (e) {
      await this.writer.run('ROLLBACK').catch(() => undefined)
      throw e
    }
    this.counted(hot, rows)
    return rows
  }

  /**
   * Runs at most one compaction step on the compactor connection and resolves when it is done, to
   * what it did; the worker calls it between batches and goes on appending meanwhile. While a step
   * runs, another call does nothing ('none'). Sealing switches appends to the other hot table first
   * (before this returns its promise), so the sort never holds back an append.
   */
  compact(now = Date.now()): Promise<CompactionStep> {
    if (this.compacting) return Promise.resolve({ kind: 'none' })
    const frozen = other(this.active)
    const active = this.hot[this.active]
    // A full table left by a stop in the middle of sealing it is sealed before anything else.
    const step: CompactionStep = this.hot[frozen].rows > 0
      ? { kind: 'seal-hot' }
      : nextCompaction({
          hotRows: active.rows,
          hotAgeMs: active.rows > 0 ? now - active.since : 0,
          partitions: this.partitions,
          hotMaxRows: this.opts.hotMaxRows,
          hotMaxAgeMs: this.opts.hotMaxAgeMs,
        })
    if (step.kind === 'none') return Promise.resolve(step)
    let work: Promise<void>
    if (step.kind === 'seal-hot') {
      if (this.hot[frozen].rows === 0) this.active = frozen
      work = this.sealHot(other(this.active))
    } else work = this.merge(step.partitions)
    const running = work.finally(() => {
      this.compacting = null
    })
    this.compacting = running
    return running.then(() => step)
  }

  /**
   * Resolves when appends may go on: at once, unless the hot table they go to holds twice
   * hotMaxRows while a compaction step runs (a long merge); then when that step is done, so that
   * sealing the table never sorts much more than hotMaxRows rows at once.
   */
  async roomToAppend(): Promise<void> {
    if (this.hot[this.active].rows >= 2 * this.opts.hotMaxRows) await this.compacted()
  }

  /** Resolves once no compaction step is running (the store can then be closed). */
  async compacted(): Promise<void> {
    while (this.compacting) await this.compacting.catch(() => undefined)
  }

  private async sealHot(hot: Hot): Promise<void> {
    const name = `telemetry_p${this.nextPartition}`
    const table = HOT_TABLES[hot]
    const rows = await this.replace([], name, [`SELECT hash(sensor_id) AS sk, ${COLUMNS} FROM ${table}`], table)
    this.partitions.push({ name, rows })
    this.hot[hot] = { rows: 0, since: 0 }
  }

  /**
   * Merges sorted partitions into one, a slice of the sort key at a time (each read through the
   * partitions' zone maps), so the sort holds about hotMaxRows rows however big the partitions grow.
   * Sorted whole, a merge held all its rows in DuckDB's memory: storing 3.4 M events (merges up to
   * 3.2 M rows) took the engine to 422-482 MB of RSS, against 308-337 MB sliced (bench 12).
   */
  private async merge(names: string[]): Promise<void> {
    const name = `telemetry_p${this.nextPartition}`
    const rows = this.partitions.filter((p) => names.includes(p.name)).reduce((n, p) => n + p.rows, 0)
    const slices = sortKeySlices(rows, this.opts.hotMaxRows).map((slice) => names.map((n) => `SELECT sk, ${COLUMNS} FROM ${n} WHERE ${sliceCondition(slice)}`).join(' UNION ALL '))
    const merged = await this.replace(names, name, slices, null)
    this.partitions = [...this.partitions.filter((p) => !names.includes(p.name)), { name, rows: merged }]
  }

  /**
   * Builds a sorted partition from `sources` (each yielding (sk, columns); every key of one before
   * every key of the next) and swaps it in for `drop` (and the hot table `emptied`) atomically, on
   * the compactor connection.
   */
  private async replace(drop: string[], name: string, sources: string[], emptied: string | null): Promise<number> {
    const c = this.compactor
    await c.run('BEGIN TRANSACTION')
    try {
      for (const [i, source] of sources.entries()) {
        const sorted = `SELECT sk, ${COLUMNS} FROM (${source}) ORDER BY sk, ts`
        await c.run(i === 0 ? `CREATE TABLE ${name} AS ${sorted}` : `INSERT INTO ${name} ${sorted}`)
      }
      const rows = await this.count(`SELECT count(*) FROM ${name}`, c)
      for (const d of drop) await c.run(`DROP TABLE ${d}`)
      if (drop.length > 0) await c.run(`DELETE FROM telemetry_parts WHERE name IN (${drop.map((d) => `'${d}'`).join(',')})`)
      if (emptied) await c.run(`DELETE FROM ${emptied}`)
      await c.run(`INSERT INTO telemetry_parts VALUES ('${name}', ${rows}, now())`)
      this.nextPartition++
      await c.run(viewSql([...this.partitions.filter((p) => !drop.includes(p.name)), { name, rows }]))
      await c.run('COMMIT')
      return rows
    } catch (e) {
      await c.run('ROLLBACK').catch(() => undefined)
      throw e
    }
  }

  /** Forgets entry ids older than the given stream time: Redis can no longer re-deliver them. */
  async forgetEntriesBefore(ms: number): Promise<void> {
    await this.writer.run(`DELETE FROM ingested_entries WHERE CAST(split_part(entry_id, '-', 1) AS BIGINT) < ${Math.floor(ms)}`)
  }

  /** Runs `fn` on a free reader connection (waiting for one if all are busy). */
  withReader<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.readers.withReader(fn)
  }

  /** A read query's rows (as JavaScript values), on one of the readers (see ReaderPool.readAll). */
  readAll(sql: string, params: Record<string, DuckDBValue> = {}): Promise<Record<string, unknown>[]> {
    return this.readers.readAll(sql, params)
  }

  async totalRows(): Promise<number> {
    return this.withReader((c) => this.count('SELECT count(*) FROM telemetry', c))
  }

  stats(): { hotRows: number; partitions: number } {
    return { hotRows: this.hot.reduce((n, h) => n + h.rows, 0), partitions: this.partitions.length }
  }

  async ping(): Promise<void> {
    await this.withReader((c) => c.run('SELECT 1'))
  }

  /**
   * A consistent copy of the whole database into `file` (one transaction, on a connection of its
   * own, so appends and compaction go on meanwhile), checkpointed and closed: what a backup ships.
   */
  async snapshot(file: string): Promise<SnapshotTaken> {
    return replaceWhole(file, async (tmp) => {
      const c = await this.instance.connect()
      const alias = `snap_${process.pid}_${Date.now()}`
      try {
        await c.run(`ATTACH '${tmp.replace(/'/g, "''")}' AS ${alias}`)
        try {
          const db = String((await c.runAndReadAll('SELECT current_database()')).getRows()[0]?.[0])
          await c.run(`COPY FROM DATABASE "${db.replace(/"/g, '""')}" TO ${alias}`)
        } finally {
          await c.run(`DETACH ${alias}`)
        }
      } finally {
        c.closeSync()
      }
    })
  }

  close(): void {
    this.writer.closeSync()
    this.compactor.closeSync()
    this.readers.close()
    this.instance.closeSync()
  }
}

/**
 * Opens the DuckDB file; while another process holds its lock (the cutover's final-sync engine
 * finishing, so this one can boot meanwhile), tries again every 50 ms for up to `waitMs`.
 */
async function openWhenFree(lib: DuckDB, file: string, options: Record<string, string>, waitMs: number): Promise<DuckDBInstance> {
  const deadline = Date.now() + waitMs
  for (;;) {
    try {
      return await lib.DuckDBInstance.create(file, options)
    } catch (e) {
      if (!/lock/i.test((e as Error).message) || Date.now() >= deadline) throw e
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}
