// The reverse sync (SQLite/DuckDB -> PostgreSQL) that rollback uses so no write made on the new
// side after cutover is lost.
//
// How changes are tracked: `--mark-cutover` (run by the cutover, after the final delta, before
// traffic moves) installs AFTER INSERT/UPDATE/DELETE triggers on every migrated SQLite table. They
// append (table, op, key) to migrate_changes inside ocean.db — in the writing transaction, so every
// service process's writes are captured and none is recorded unless it committed. The mark (time,
// last change seq, telemetry row count) goes into the journal. `--reverse` then applies, per table
// and key, the latest change since the last reverse: deleted keys are deleted in PostgreSQL, others
// upserted from the row as it is now. Telemetry has no triggers (DuckDB has none, and it is
// append-only): rows from the mark minus a lookback (late events) are compared with PostgreSQL's
// rows of the same window (EXCEPT ALL: a multiset difference), and what PostgreSQL lacks is inserted;
// the count ingested since the mark is reported beside it, so a gap shows.
import fs from 'node:fs'
import { Readable } from 'node:stream'
import type { SqliteValue } from './canonical-row.ts'
import { duckdbOf, sqliteOf, type Engines } from './copy-table.ts'
import type { ColumnPlan, TablePlan } from './mapping.ts'
import type { Log } from './progress.ts'
import type { PostgresSource } from './source-postgres.ts'
import { OpsError } from '../ops-error.ts'

export const CHANGES = 'migrate_changes'
const MAX_KEY = 3
const q = (ident: string) => `"${ident.replace(/"/g, '""')}"`

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
export async function markCutover(e: Engines, plans: TablePlan[], log: Log): Promise<CutoverMark> {
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

/** COPY text format: backslash, tab, newline and carriage return escaped; NULL as \N. */
export function copyTextField(v: string | null): string {
  if (v === null) return '\\N'
  return v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
}

/** The text PostgreSQL reads for a value stored in SQLite (the inverse of the codecs). */
export function reverseText(col: ColumnPlan, v: SqliteValue): string | null {
  if (v === null) return null
  if (Buffer.isBuffer(v)) return v.toString('hex')
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity'
  if (col.rule?.kind === 'bool') return Number(v) !== 0 ? 't' : 'f'
  return String(v)
}

/** The source column's type as PostgreSQL names it, for a cast from text. */
function pgType(plan: TablePlan, source: string): string {
  const c = plan.source.columns.find((x) => x.name === source)!
  return c.udt.startsWith('_') ? `${q(c.udt.slice(1))}[]` : q(c.udt)
}

/** The expression turning the staged text back into the source column. */
function reverseExpr(plan: TablePlan, col: ColumnPlan, staged: string): string {
  const src = plan.source.columns.find((x) => x.name === col.sourceColumn)!
  const type = pgType(plan, src.name)
  if (col.transform === 'epoch-ms') {
    const ts = `to_timestamp(${staged}::numeric / 1000)`
    return src.udt === 'timestamp' ? `(${ts} AT TIME ZONE 'UTC')` : ts
  }
  if (src.dataType === 'ARRAY' || src.udt.startsWith('_')) return `ARRAY(SELECT jsonb_array_elements_text(${staged}::jsonb))::${type}`
  if (src.udt === 'bytea') return `decode(${staged}, 'hex')`
  if (src.udt === 'money') return `${staged}::numeric::money`
  return `${staged}::${type}`
}

/** Target columns that carry a source column back: one per source column, the first mapped reversibly. */
function reverseColumns(plan: TablePlan): ColumnPlan[] {
  const seen = new Set<string>()
  const out: ColumnPlan[] = []
  for (const c of plan.columns) {
    if (!c.sourceColumn || !c.rule || seen.has(c.sourceColumn)) continue
    if (c.transform && c.transform !== 'epoch-ms') continue
    seen.add(c.sourceColumn)
    out.push(c)
  }
  return out
}

/** The latest change per key since `fromSeq` (op 'u' rows joined to the row as it is now; op 'd' keys). */
function latestSql(plan: TablePlan, op: 'u' | 'd', columns: string): string {
  const n = plan.targetKey.length
  const kc = Array.from({ length: n }, (_, i) => `k${i + 1}`).join(', ')
  const latest = `c.seq IN (SELECT max(seq) FROM ${CHANGES} WHERE tbl = ? AND seq > ? AND seq <= ? GROUP BY ${kc}) AND c.op = '${op}'`
  if (op === 'd') return `SELECT ${kc} FROM ${CHANGES} c WHERE ${latest}`
  const on = plan.targetKey.map((k, i) => `t.${q(k)} = c.k${i + 1}`).join(' AND ')
  return `SELECT ${columns} FROM ${CHANGES} c JOIN ${q(plan.targetTable)} t ON ${on} WHERE ${latest}`
}

/** COPY text lines, 10 000 rows per chunk, pulled from a SQLite cursor as PostgreSQL takes them. */
function* copyLines(rows: IterableIterator<unknown[]>, cols: ColumnPlan[], count: { n: number }): Generator<string> {
  let batch: string[] = []
  for (const row of rows) {
    batch.push(cols.map((c, i) => copyTextField(reverseText(c, (row[i] ?? null) as SqliteValue))).join('\t'))
    count.n++
    if (batch.length >= 10_000) {
      yield batch.join('\n') + '\n'
      batch = []
    }
  }
  if (batch.length) yield batch.join('\n') + '\n'
}

async function reverseSqliteTable(e: Engines, pg: PostgresSource, plan: TablePlan, fromSeq: number, toSeq: number): Promise<ReverseResult> {
  const sqlite = sqliteOf(e, plan)
  if (!plan.reversible.ok) {
    const n = Number((sqlite.db.prepare(`SELECT count(*) AS n FROM ${CHANGES} WHERE tbl = ? AND seq > ? AND seq <= ?`).get(plan.targetTable, fromSeq, toSeq) as { n: number }).n)
    return { table: plan.id, upserted: 0, deleted: 0, skipped: `${plan.reversible.why}${n ? ` (${n} changes on the new side are not carried back)` : ''}` }
  }
  const cols = reverseColumns(plan)
  const keyCols = plan.targetKey.map((k) => plan.columns.find((c) => c.target === k)!)
  const srcKey = plan.key!.columns
  const args = [plan.targetTable, fromSeq, toSeq]
  const ups = sqlite.db.prepare(latestSql(plan, 'u', cols.map((c) => `t.${q(c.target)}`).join(', '))).raw(true).safeIntegers(true)
  const dels = sqlite.db.prepare(latestSql(plan, 'd', '')).raw(true).safeIntegers(true)

  const from = `${q(plan.source.schema)}.${q(plan.source.name)}`
  await pg.query('BEGIN')
  try {
    let upserted = 0
    let deleted = 0
    const staged = { n: 0 }
    await pg.query(`CREATE TEMP TABLE migrate_rev (${cols.map((_, i) => `c${i} text`).join(', ')}) ON COMMIT DROP`)
    await pg.copyIn('COPY migrate_rev FROM STDIN', Readable.from(copyLines(ups.iterate(...args) as IterableIterator<unknown[]>, cols, staged)))
    if (staged.n > 0) {
      const setCols = cols.filter((c) => !srcKey.includes(c.sourceColumn!))
      const conflict = setCols.length
        ? `DO UPDATE SET ${setCols.map((c) => `${q(c.sourceColumn!)} = EXCLUDED.${q(c.sourceColumn!)}`).join(', ')}`
        : 'DO NOTHING'
      const r = await pg.query(
        `INSERT INTO ${from} (${cols.map((c) => q(c.sourceColumn!)).join(', ')}) SELECT ${cols.map((c, i) => reverseExpr(plan, c, `c${i}`)).join(', ')} FROM migrate_rev ON CONFLICT (${srcKey.map(q).join(', ')}) ${conflict}`,
      )
      upserted = r.rowCount ?? 0
    }
    const toDelete = { n: 0 }
    await pg.query(`CREATE TEMP TABLE migrate_rev_del (${keyCols.map((_, i) => `k${i} text`).join(', ')}) ON COMMIT DROP`)
    await pg.copyIn('COPY migrate_rev_del FROM STDIN', Readable.from(copyLines(dels.iterate(...args) as IterableIterator<unknown[]>, keyCols, toDelete)))
    if (toDelete.n > 0) {
      const match = keyCols.map((k, i) => `s.${q(k.sourceColumn!)} = ${reverseExpr(plan, k, `d.k${i}`)}`).join(' AND ')
      const r = await pg.query(`DELETE FROM ${from} s USING migrate_rev_del d WHERE ${match}`)
      deleted = r.rowCount ?? 0
    }
    await pg.query('COMMIT')
    return { table: plan.id, upserted, deleted }
  } catch (err) {
    await pg.query('ROLLBACK').catch(() => undefined)
    throw err
  }
}

async function reverseTelemetry(e: Engines, pg: PostgresSource, plan: TablePlan, mark: CutoverMark, lookbackMs: number): Promise<ReverseResult> {
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

/** Applies the new side's changes since the cutover mark (or the last reverse) to PostgreSQL. */
export async function reverseSync(e: Engines, plans: TablePlan[], opts: { lookbackMs: number; log: Log }): Promise<ReverseResult[]> {
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
    } else {
      results.push({ table: plan.id, upserted: 0, deleted: 0, skipped: 'generic DuckDB tables are not tracked after cutover' })
    }
  }
  e.checkpoints.setMark('reverse', { seq: toSeq, at: new Date().toISOString() })
  return results
}
