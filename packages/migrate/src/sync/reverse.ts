// The reverse sync (SQLite/DuckDB -> PostgreSQL) that rollback uses so no write made on the new
// side after cutover is lost.
//
// How changes are tracked: `--mark-cutover` (run by the cutover, after the final delta, before
// traffic moves) installs AFTER INSERT/UPDATE/DELETE triggers on every migrated SQLite table. They
// append (table, op, key) to migrate_changes inside ocean.db — in the writing transaction, so every
// service process's writes are captured and none is recorded unless it committed. The mark (time,
// last change seq, telemetry row count) goes into the journal. `--reverse` then applies, per table
// and key, the latest change since the last reverse: deleted keys are deleted in PostgreSQL, others
// upserted from the row as it is now, in one transaction per table with the table locked against
// other writers. Upserts travel in chunks of 50 000 rows that SQLite itself writes as COPY text
// (reverse-text.ts), while PostgreSQL applies the previous chunk: staged and upserted by key, or,
// for a chunk of integer keys none of which the table can hold (nothing between its smallest and
// largest: rows inserted on the new side), copied straight into the table. Telemetry has no
// triggers (DuckDB has none, and it is append-only): rows from the mark minus a lookback (late
// events) are compared with PostgreSQL's rows of the same window (EXCEPT ALL: a multiset
// difference), and what PostgreSQL lacks is inserted; the count ingested since the mark is
// reported beside it, so a gap shows.
import fs from 'node:fs'
import { Readable } from 'node:stream'
import { copyChunks, duckdbOf, sqliteOf, type CopyContext } from './copy-table.ts'
import type { ColumnPlan, TablePlan } from '../plan/mapping.ts'
import { TableProgress, type Log } from '../state/progress.ts'
import type { PostgresSource } from '../sources/postgres.ts'
import { OpsError } from '@ocean-ops/common'
import { pgType, plainType, reverseColumns, reverseExpr, sqliteCopyLine } from './reverse-text.ts'
import { quoteSqlIdent as q } from '../values/sql-ident.ts'

export const CHANGES = 'migrate_changes'
const MAX_KEY = 3

export interface CutoverMark {
  at: string
  seq: number
  telemetryRows: number | null
}

export interface ReverseResult {
  table: string
  upserted: number
  deleted: number
  skipped?: string
  /** Changes made on the new side that a skipped table leaves behind (sessions: logins on the new side). */
  notCarriedBack?: number
  /** Telemetry: rows ingested on the new side since the mark (for comparison with `upserted`). */
  newSinceMark?: number
}

function triggerSql(plan: TablePlan): string[] {
  const t = plan.targetTable
  const keys = plan.targetKey
  const cols = keys.map((_, i) => `k${i + 1}`).join(', ')
  const vals = (row: 'NEW' | 'OLD') => keys.map((k) => `${row}.${q(k)}`).join(', ')
  const name = (op: string) => q(`migrate_${t}_${op}`)
  const changed = keys.map((k) => `OLD.${q(k)} IS NOT NEW.${q(k)}`).join(' OR ')
  const lit = `'${t.replace(/'/g, "''")}'`
  return [
    `CREATE TRIGGER IF NOT EXISTS ${name('ins')} AFTER INSERT ON ${q(t)} BEGIN INSERT INTO ${CHANGES} (tbl, op, ${cols}) VALUES (${lit}, 'u', ${vals('NEW')}); END`,
    `CREATE TRIGGER IF NOT EXISTS ${name('upd')} AFTER UPDATE ON ${q(t)} BEGIN
       INSERT INTO ${CHANGES} (tbl, op, ${cols}) SELECT ${lit}, 'd', ${vals('OLD')} WHERE ${changed};
       INSERT INTO ${CHANGES} (tbl, op, ${cols}) VALUES (${lit}, 'u', ${vals('NEW')});
     END`,
    `CREATE TRIGGER IF NOT EXISTS ${name('del')} AFTER DELETE ON ${q(t)} BEGIN INSERT INTO ${CHANGES} (tbl, op, ${cols}) VALUES (${lit}, 'd', ${vals('OLD')}); END`,
  ]
}

/** Installs the change triggers and records the cutover mark in the journal. Idempotent. */
export async function markCutover(e: CopyContext, plans: TablePlan[], log: Log): Promise<CutoverMark> {
  const sqlite = e.sqlite
  let seq = 0
  if (sqlite) {
    sqlite.db.exec(`CREATE TABLE IF NOT EXISTS ${CHANGES} (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, op TEXT NOT NULL CHECK (op IN ('u', 'd')),
      k1, k2, k3, at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
      CREATE INDEX IF NOT EXISTS ${CHANGES}_tbl ON ${CHANGES} (tbl, seq);`)
    sqlite.db.transaction(() => {
      for (const plan of plans) {
        if (plan.targetKind !== 'sqlite') continue
        if (plan.targetKey.length === 0 || plan.targetKey.length > MAX_KEY) {
          log(`  ! ${plan.targetTable}: no key of 1 to ${MAX_KEY} columns; its changes cannot be tracked`)
          continue
        }
        for (const sql of triggerSql(plan)) sqlite.db.exec(sql)
      }
    })()
    seq = Number((sqlite.db.prepare(`SELECT COALESCE(max(seq), 0) AS s FROM ${CHANGES}`).get() as { s: number }).s)
  }
  const telemetry = plans.find((p) => p.targetKind === 'telemetry')
  const telemetryRows = telemetry && e.duckdb ? await e.duckdb.count(telemetry) : null
  const mark: CutoverMark = { at: new Date().toISOString(), seq, telemetryRows }
  e.checkpoints.setMark('cutover', mark)
  e.checkpoints.setMark('reverse', { seq, at: mark.at })
  log(`  cutover mark at ${mark.at}: changes after seq ${seq}${telemetryRows !== null ? `, telemetry rows ${telemetryRows}` : ''}`)
  return mark
}

/**
 * The latest change per key since `fromSeq`: the key's first column, then `columns` of the row as it
 * is now (op 'u') or of the change (op 'd'). One grouping pass: SQLite takes a bare column (op) of a
 * max() aggregate from the row holding the maximum, so the latest change's op comes with its seq.
 */
function latestSql(plan: TablePlan, op: 'u' | 'd', columns: string): string {
  const kc = Array.from({ length: plan.targetKey.length }, (_, i) => `k${i + 1}`).join(', ')
  const latest = `SELECT ${kc}, op, max(seq) AS seq FROM ${CHANGES} WHERE tbl = ? AND seq > ? AND seq <= ? GROUP BY ${kc}`
  if (op === 'd') return `SELECT c.k1, ${columns} FROM (${latest}) c WHERE op = 'd'`
  const on = plan.targetKey.map((k, i) => `t.${q(k)} = c.k${i + 1}`).join(' AND ')
  return `SELECT c.k1, ${columns} FROM (${latest}) c JOIN ${q(plan.targetTable)} t ON ${on} WHERE c.op = 'u'`
}

/** Rows staged and applied per round trip: the next chunk is read from SQLite while PostgreSQL applies this one. */
const REVERSE_CHUNK = 50_000

interface Chunk {
  text: string
  rows: number
  /** The smallest and largest first key column, when every one is an integer. */
  lo: bigint | null
  hi: bigint | null
}

/**
 * Up to `max` rows of a cursor of [first key column, COPY text line] as one text, or null when it is
 * exhausted. Yields to the event loop every few thousand rows, so the previous chunk's COPY and
 * statements reach PostgreSQL while this one is read.
 */
async function readChunk(rows: Iterator<unknown[]>, max: number): Promise<Chunk | null> {
  const lines: string[] = []
  let lo: bigint | null = null
  let hi: bigint | null = null
  let integral = true
  while (lines.length < max) {
    const next = rows.next()
    if (next.done) break
    const [k, line] = next.value as [unknown, string]
    lines.push(line)
    if (typeof k !== 'bigint') integral = false
    else if (integral) {
      if (lo === null || k < lo) lo = k
      if (hi === null || k > hi) hi = k
    }
    if (lines.length % 5000 === 0) await new Promise((r) => setImmediate(r))
  }
  if (!lines.length) return null
  return { text: lines.join('\n') + '\n', rows: lines.length, lo: integral ? lo : null, hi: integral ? hi : null }
}

/**
 * Applies the staged rows (migrate_rev) to the source table and empties the stage, in one round trip
 * (so PostgreSQL runs both statements back to back while this process reads the next chunk). An
 * upsert by the source key: one index probe per row, whatever the table's size (an UPDATE join plus
 * an anti-join INSERT per chunk was tried: the hash joins scan the whole table every chunk).
 * Resolves to the rows written.
 */
function applyStaged(pg: PostgresSource, plan: TablePlan, cols: ColumnPlan[], from: string): Promise<number> {
  const srcKey = plan.key!.columns
  const setCols = cols.filter((c) => !srcKey.includes(c.sourceColumn!))
  const conflict = setCols.length ? `DO UPDATE SET ${setCols.map((c) => `${q(c.sourceColumn!)} = EXCLUDED.${q(c.sourceColumn!)}`).join(', ')}` : 'DO NOTHING'
  const upsert = `INSERT INTO ${from} (${cols.map((c) => q(c.sourceColumn!)).join(', ')}) SELECT ${cols.map((c, i) => reverseExpr(plan, c, `c${i}`)).join(', ')} FROM migrate_rev ON CONFLICT (${srcKey.map(q).join(', ')}) ${conflict}`
  // Without parameters the two statements go as one simple query; each has its result, in order.
  return pg.query(`${upsert};\nTRUNCATE migrate_rev`).then((res) => (res as unknown as Array<{ rowCount: number | null }>)[0]?.rowCount ?? 0)
}

/**
 * What sends a chunk of upserts to PostgreSQL, resolving to the rows written. A table keyed by one
 * integer column whose columns all load by their input functions can take a chunk straight into the
 * table by COPY when none of its keys can be there: no row of the table lies between the chunk's
 * smallest and largest key (one index probe; rows the new side inserted, past the old side's keys).
 * Every other chunk goes through the stage and the upsert.
 */
function chunkSender(pg: PostgresSource, plan: TablePlan, cols: ColumnPlan[], from: string): (chunk: Chunk) => Promise<number> {
  const key = plan.key!.columns
  const keyCol = cols.find((c) => c.sourceColumn === key[0])
  const direct = key.length === 1 && keyCol?.rule?.kind === 'int' && cols.every((c) => plainType(plan, c) !== null)
  const names = cols.map((c) => q(c.sourceColumn!)).join(', ')
  return async (chunk) => {
    if (direct && chunk.lo !== null && chunk.hi !== null) {
      const taken = await pg.query(`SELECT EXISTS (SELECT 1 FROM ${from} WHERE ${q(key[0]!)} BETWEEN ${chunk.lo} AND ${chunk.hi}) AS taken`)
      if (taken.rows[0]?.taken === false) {
        await pg.copyIn(`COPY ${from} (${names}) FROM STDIN`, Readable.from([chunk.text]))
        return chunk.rows
      }
    }
    await pg.copyIn('COPY migrate_rev FROM STDIN', Readable.from([chunk.text]))
    return applyStaged(pg, plan, cols, from)
  }
}

async function reverseSqliteTable(e: CopyContext, pg: PostgresSource, plan: TablePlan, fromSeq: number, toSeq: number): Promise<ReverseResult> {
  const sqlite = sqliteOf(e, plan)
  if (!plan.reversible.ok) {
    const n = Number((sqlite.db.prepare(`SELECT count(*) AS n FROM ${CHANGES} WHERE tbl = ? AND seq > ? AND seq <= ?`).get(plan.targetTable, fromSeq, toSeq) as { n: number }).n)
    return { table: plan.id, upserted: 0, deleted: 0, notCarriedBack: n, skipped: `${plan.reversible.why}${n ? ` (${n} changes on the new side are not carried back)` : ''}` }
  }
  const cols = reverseColumns(plan)
  const keyCols = plan.targetKey.map((k) => plan.columns.find((c) => c.target === k)!)
  const args = [plan.targetTable, fromSeq, toSeq]
  const ups = sqlite.db.prepare(latestSql(plan, 'u', sqliteCopyLine(cols, 't'))).raw(true).safeIntegers(true)
  // Deleted keys are in the change log's k1.. columns, typed as the key was stored.
  const keyAsChange = keyCols.map((k, i) => ({ ...k, target: `k${i + 1}` }))
  const dels = sqlite.db.prepare(latestSql(plan, 'd', sqliteCopyLine(keyAsChange, 'c'))).raw(true).safeIntegers(true)

  const from = `${q(plan.source.schema)}.${q(plan.source.name)}`
  await pg.query('BEGIN')
  try {
    let upserted = 0
    let deleted = 0
    // Other writers wait until the commit (the old app is stopped during a rollback; this makes sure):
    // no key appears between a chunk's range check and its COPY.
    await pg.query(`LOCK TABLE ${from} IN SHARE ROW EXCLUSIVE MODE`)
    // Columns whose text goes back by the type's input function are loaded typed by COPY itself.
    await pg.query(`CREATE TEMP TABLE migrate_rev (${cols.map((c, i) => `c${i} ${plainType(plan, c) ?? 'text'}`).join(', ')}) ON COMMIT DROP`)
    const send = chunkSender(pg, plan, cols, from)
    const cursor = ups.iterate(...args) as IterableIterator<unknown[]>
    let sending: Promise<number> | null = null
    try {
      for (;;) {
        const chunk = await readChunk(cursor, REVERSE_CHUNK)
        if (sending) upserted += await sending
        sending = null
        if (!chunk) break
        sending = send(chunk)
        // Awaited on the next round; an error meanwhile is not an unhandled rejection.
        sending.catch(() => undefined)
      }
    } finally {
      cursor.return?.()
      if (sending) await sending.catch(() => undefined)
    }
    // The delete query groups every change again: skipped when none is a delete.
    const anyDelete = sqlite.db.prepare(`SELECT 1 FROM ${CHANGES} WHERE tbl = ? AND seq > ? AND seq <= ? AND op = 'd' LIMIT 1`).get(...args)
    if (anyDelete) {
      await pg.query(`CREATE TEMP TABLE migrate_rev_del (${keyCols.map((_, i) => `k${i} text`).join(', ')}) ON COMMIT DROP`)
      const delCursor = dels.iterate(...args) as IterableIterator<unknown[]>
      let n = 0
      for (let chunk = await readChunk(delCursor, REVERSE_CHUNK); chunk; chunk = await readChunk(delCursor, REVERSE_CHUNK)) {
        await pg.copyIn('COPY migrate_rev_del FROM STDIN', Readable.from([chunk.text]))
        n += chunk.rows
      }
      if (n > 0) {
        const match = keyCols.map((k, i) => `s.${q(k.sourceColumn!)} = ${reverseExpr(plan, k, `d.k${i}`)}`).join(' AND ')
        const r = await pg.query(`DELETE FROM ${from} s USING migrate_rev_del d WHERE ${match}`)
        deleted = r.rowCount ?? 0
      }
    }
    await pg.query('COMMIT')
    return { table: plan.id, upserted, deleted }
  } catch (err) {
    await pg.query('ROLLBACK').catch(() => undefined)
    throw err
  }
}

async function reverseTelemetry(e: CopyContext, pg: PostgresSource, plan: TablePlan, mark: CutoverMark, lookbackMs: number): Promise<ReverseResult> {
  const duck = duckdbOf(e, plan)
  const windowStart = new Date(Date.parse(mark.at) - lookbackMs).toISOString()
  const col = (t: string) => plan.columns.find((c) => c.target === t)!
  const [sensor, ts, value, data] = ['sensor_id', 'ts', 'value', 'data'].map(col) as [ColumnPlan, ColumnPlan, ColumnPlan, ColumnPlan]
  const file = duck.stageFile(plan, -1)
  await duck.exportCsv(
    `SELECT sensor_id, strftime(ts, '%Y-%m-%d %H:%M:%S.%f'), value, data FROM telemetry WHERE ts >= TIMESTAMP '${windowStart.replace('T', ' ').replace('Z', '')}'`,
    file,
  )
  const from = `${q(plan.source.schema)}.${q(plan.source.name)}`
  const tsCol = plan.source.columns.find((c) => c.name === ts.sourceColumn)!
  const tsExpr = tsCol.udt === 'timestamptz' ? `(ts || '+00')::timestamptz` : `ts::timestamp`
  const dataCol = plan.source.columns.find((c) => c.name === data.sourceColumn)!
  const dataType = pgType(plan, dataCol.name)
  const cmp = (expr: string) => (dataCol.udt === 'json' ? `${expr}::jsonb` : expr)
  await pg.query('BEGIN')
  try {
    await pg.query('CREATE TEMP TABLE migrate_rev_tel (sensor_id text, ts text, value text, data text) ON COMMIT DROP')
    await pg.copyIn('COPY migrate_rev_tel FROM STDIN (FORMAT csv)', fs.createReadStream(file))
    const s = q(sensor.sourceColumn!)
    const t = q(ts.sourceColumn!)
    const v = q(value.sourceColumn!)
    const d = q(data.sourceColumn!)
    const since = `${t} >= ${pg.literal(windowStart)}::timestamptz${tsCol.udt === 'timestamp' ? ` AT TIME ZONE 'UTC'` : ''}`
    const r = await pg.query(
      `INSERT INTO ${from} (${s}, ${t}, ${v}, ${d})
       SELECT sid, tsv, val, dat::${dataType} FROM (
         SELECT sensor_id AS sid, ${tsExpr} AS tsv, value::float8 AS val, ${cmp(`data::${dataType}`)} AS dat FROM migrate_rev_tel
         EXCEPT ALL
         SELECT ${s}::text, ${t}, ${v}::float8, ${cmp(d)} FROM ${from} WHERE ${since}
       ) x`,
    )
    await pg.query('COMMIT')
    const now = await duck.count(plan)
    return { table: plan.id, upserted: r.rowCount ?? 0, deleted: 0, newSinceMark: mark.telemetryRows === null ? undefined : now - mark.telemetryRows }
  } catch (err) {
    await pg.query('ROLLBACK').catch(() => undefined)
    throw err
  } finally {
    fs.rmSync(file, { force: true })
  }
}

/**
 * The rows just inserted into PostgreSQL are the new side's own events, which DuckDB holds already:
 * they are recorded as copied (read back, checksummed, checkpointed; not stored again), or the next
 * cutover's delta would copy them a second time and its verification would find them twice. Runs
 * after every reverse, so a reverse interrupted between its insert and this still gets them recorded.
 */
async function recordReversedTelemetry(e: CopyContext, plan: TablePlan, log: Log): Promise<void> {
  const state = e.checkpoints.table(plan.id)
  if (!state?.copy_done) return
  const after = state.last_key ? (JSON.parse(state.last_key) as string[]) : null
  const n = await copyChunks(e, plan, after, state.next_chunk, new TableProgress(`  ${plan.id} (recorded)`, 0, log), { recordOnly: true })
  if (n) log(`  ${plan.id}: ${n} rows the reverse sync inserted recorded as copied (DuckDB holds them already)`)
}

/** Applies the new side's changes since the cutover mark (or the last reverse) to PostgreSQL. */
export async function reverseSync(e: CopyContext, plans: TablePlan[], opts: { lookbackMs: number; log: Log }): Promise<ReverseResult[]> {
  if (e.source.engine !== 'postgres') throw new OpsError('OPS_E_USAGE', 'the reverse sync writes to PostgreSQL; the source is MySQL')
  const pg = e.source as PostgresSource
  const mark = e.checkpoints.mark<CutoverMark>('cutover')?.data
  if (!mark) throw new OpsError('OPS_E_MIGRATE_STATE', 'no cutover mark in the journal: the cutover runs `migrate-data --mark-cutover` before traffic moves; without it the new side\'s changes are unknown')
  const last = e.checkpoints.mark<{ seq: number }>('reverse')?.data.seq ?? mark.seq
  const sqlite = e.sqlite
  const toSeq = sqlite ? Number((sqlite.db.prepare(`SELECT COALESCE(max(seq), 0) AS s FROM ${CHANGES}`).get() as { s: number }).s) : 0
  const results: ReverseResult[] = []
  for (const plan of plans) {
    if (plan.targetKind === 'sqlite') {
      const r = await reverseSqliteTable(e, pg, plan, last, toSeq)
      results.push(r)
      opts.log(`  ${plan.id}: ${r.skipped ? `skipped: ${r.skipped}` : `${r.upserted} upserted, ${r.deleted} deleted`}`)
    } else if (plan.targetKind === 'telemetry') {
      const r = await reverseTelemetry(e, pg, plan, mark, opts.lookbackMs)
      results.push(r)
      opts.log(`  ${plan.id}: ${r.upserted} telemetry rows inserted (${r.newSinceMark ?? '?'} ingested on the new side since the mark)`)
      await recordReversedTelemetry(e, plan, opts.log)
    } else {
      results.push({ table: plan.id, upserted: 0, deleted: 0, skipped: 'generic DuckDB tables are not tracked after cutover' })
    }
  }
  e.checkpoints.setMark('reverse', { seq: toSeq, at: new Date().toISOString() })
  return results
}
