// The DuckDB target: the service's telemetry.duckdb, opened through the service's TelemetryStore
// (which creates its schema). Rows are staged in bulk — the source's CSV read by DuckDB's own
// reader, no per-value JavaScript — into a table of an in-memory database attached to the instance
// (nothing staged touches telemetry.duckdb; beyond the memory limit it spills to the temp directory):
// the source's text (VARCHAR) beside the type rules' casts of it (the target types), cast once and
// stored from there. Checksums here are DuckDB's: count and sum(hash(typed columns)), computed over
// the staged source rows and over the target, both inside DuckDB. The memory limit is small (128MB)
// so the copy's memory does not grow with the table: what does not fit, e.g. the final compaction's
// sort, spills to the store's temp directory.
import fs from 'node:fs'
import path from 'node:path'
import type { DuckDBConnection } from '@duckdb/node-api'
import { HOT_ROWS, TelemetryStore } from '@ocean-ops/ocean/stores/duckdb-store'
import { OpsError } from '@ocean-ops/common'
import type { Checksum } from '../values/checksum.ts'
import type { Coercion } from '../state/checkpoints.ts'
import type { TablePlan } from '../plan/mapping.ts'
import { resolveServiceFile } from './sqlite.ts'
import { duckdbCast, duckdbCoercedWhere } from '../values/type-rules.ts'
import { quoteSqlIdent as q } from '../values/sql-ident.ts'

export const DUCKDB_FILE = 'telemetry.duckdb'
const STAGE = 'migrate_stage'
/** Staging tables live in an in-memory database attached to the instance (every connection sees it):
 * nothing staged is written to telemetry.duckdb, and what does not fit the memory limit spills to the
 * store's temp directory. */
const MEM = 'migrate_mem'
const staged = (table: string) => `${MEM}.${table}`
const MISSING = staged('migrate_missing')
const EXTRA = staged('migrate_extra')
const lit = (v: string) => `'${v.replace(/'/g, "''")}'`

export interface DuckdbOptions {
  memoryLimit?: string
  threads?: number
}

interface CoercionCheck {
  c: TablePlan['columns'][number]
  /** The source text's staged column (s<select index>): the stage keeps it for the check. */
  index: number
  /** Rows whose value the cast lost (duckdbCoercedWhere). */
  where: string
  /** The same condition counted over the stage, on its cast column where it can. */
  count: string
}

/** The target columns a cast can lose values of: what stage keeps the source text of, and stagedCheck counts. */
function coercionChecks(plan: TablePlan): CoercionCheck[] {
  const checks: CoercionCheck[] = []
  for (const [i, c] of plan.columns.entries()) {
    if (!c.rule || c.selectIndex === null) continue
    const s = `s${c.selectIndex}`
    const where = duckdbCoercedWhere(c.rule, s)
    if (!where) continue
    // "Not NULL in the source, NULL after the cast": the cast is already in t<i> (stage), so count on it
    // rather than casting again; any other condition is counted as it is.
    const count = where === `${s} IS NOT NULL AND ${duckdbCast(c.rule, s)} IS NULL` ? `${s} IS NOT NULL AND t${i} IS NULL` : where
    checks.push({ c, index: c.selectIndex, where, count })
  }
  return checks
}

export class DuckdbTarget {
  private constructor(
    readonly store: TelemetryStore,
    readonly file: string,
    readonly stageDir: string,
  ) {}

  static async open(arg: string, opts: DuckdbOptions = {}): Promise<DuckdbTarget> {
    const { dir, file } = resolveServiceFile(arg, DUCKDB_FILE, '--duckdb')
    let store: TelemetryStore
    try {
      store = await TelemetryStore.open({
        dataDir: dir,
        // Small: DuckDB spills sorts and staged rows to its temp directory beyond it, so the engine's
        // memory stays about the same whatever the table's size (measured: the final compaction's sort
        // of 5 M rows is ~5-10 % slower than with 256MB; with 1GB the copy's memory grew with the table).
        memoryLimit: opts.memoryLimit ?? '128MB',
        threads: opts.threads ?? 2,
        // The service's defaults, so compact() leaves the layout the service would have made.
        hotMaxRows: 200_000,
        hotMaxAgeMs: 60_000,
      })
    } catch (e) {
      const msg = (e as Error).message
      const hint = /lock/i.test(msg) ? ' Another process holds it: stop the Ocean engine (it owns the file) before migrating.' : ''
      throw new OpsError('OPS_E_TARGET', `cannot open ${file}: ${msg}.${hint}`)
    }
    const stageDir = path.join(dir, 'migrate-stage')
    fs.mkdirSync(stageDir, { recursive: true })
    const target = new DuckdbTarget(store, file, stageDir)
    await target.run(`ATTACH IF NOT EXISTS ':memory:' AS ${MEM}`)
    return target
  }

  close(): void {
    this.store.close()
    fs.rmSync(this.stageDir, { recursive: true, force: true })
  }

  /** Runs on one of the store's connections (any connection of the one instance sees committed data). */
  private conn<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.store.withReader(fn)
  }

  async run(sql: string): Promise<void> {
    await this.conn((c) => c.run(sql))
  }

  async rows(sql: string): Promise<string[][]> {
    return this.conn(async (c) => {
      const r = await c.runAndReadAll(sql)
      return r.getRows().map((row) => row.map((v) => (v === null ? null : String(v))) as string[])
    })
  }

  async ensureTable(plan: TablePlan): Promise<void> {
    if (plan.targetKind !== 'duckdb') return
    const cols = plan.columns.map((c) => `${q(c.target)} ${c.duckdbType}${c.notNull ? ' NOT NULL' : ''}`)
    if (plan.targetKey.length) cols.push(`PRIMARY KEY (${plan.targetKey.map(q).join(', ')})`)
    await this.run(`CREATE TABLE IF NOT EXISTS ${q(plan.targetTable)} (${cols.join(', ')})`)
  }

  /** A file for the source to write the chunk's CSV into. */
  stageFile(plan: TablePlan, chunkNo: number): string {
    return path.join(this.stageDir, `${plan.id.replace(/[^A-Za-z0-9_]/g, '_')}-${chunkNo}.csv`)
  }

  /**
   * Loads a chunk's CSV (data columns s0.., then key columns k0..) into the staging table: each target
   * column's value cast once (t0..: castList's expressions, the target's types), the key's text, and
   * the source text only of columns whose cast can lose a value (stagedCheck reports those). Keeping
   * every source text beside its cast (text and JSON twice over) made staging a third slower: 5 M
   * telemetry rows, staging 4.9 -> 3.1-3.4 s, the whole copy 10.7 -> 8.9 s.
   */
  async stage(plan: TablePlan, file: string, table = STAGE): Promise<void> {
    const cols = [...plan.selects.map((_, i) => `'s${i}': 'VARCHAR'`), ...(plan.key?.columns ?? []).map((_, i) => `'k${i}': 'VARCHAR'`)]
    const kept = [...new Set(coercionChecks(plan).map((k) => `s${k.index}`)), ...(plan.key?.columns ?? []).map((_, i) => `k${i}`)]
    await this.run(
      `CREATE OR REPLACE TABLE ${staged(table)} AS SELECT ${kept.map((c) => `${c}, `).join('')}${this.castList(plan).map((e, i) => `${e} AS t${i}`).join(', ')} FROM read_csv(${lit(file)}, header = false, auto_detect = false, allow_quoted_nulls = false, delim = ',', quote = '"', escape = '"', columns = {${cols.join(', ')}})`,
    )
    fs.rmSync(file, { force: true })
  }

  /** The target columns' expressions over the staging table (casts per type rule). */
  castList(plan: TablePlan): string[] {
    return plan.columns.map((c) => (c.rule && c.selectIndex !== null ? duckdbCast(c.rule, `s${c.selectIndex}`) : `NULL::${c.duckdbType}`)).map((e, i) => {
      const c = plan.columns[i]!
      // Pin each expression to the target column's type, so hash() sees the same types on both sides.
      return `CAST(${e} AS ${c.duckdbType})`
    })
  }

  /** The staged columns holding castList's values (see stage). */
  private typedList(plan: TablePlan): string[] {
    return plan.columns.map((_, i) => `t${i}`)
  }

  private async checksumOf(sql: string): Promise<Checksum> {
    const [row] = await this.rows(sql)
    return { rows: Number(row?.[0] ?? 0), sum: `d:${row?.[1] ?? '0'}` }
  }

  async stagedChecksum(plan: TablePlan, table = STAGE): Promise<Checksum> {
    return this.checksumOf(`SELECT count(*)::VARCHAR, COALESCE(sum(hash(${this.typedList(plan).join(', ')})), 0)::VARCHAR FROM ${staged(table)}`)
  }

  /**
   * The staged chunk's checksum (as stagedChecksum) and, in the same pass over the stage, its values
   * the target type cannot hold (NULL after the cast) or tinyint(1) not 0/1: counted per column, and
   * up to `keep` of them with their keys, fetched only for columns that have some.
   */
  async stagedCheck(plan: TablePlan, keep: number): Promise<{ sum: Checksum; kept: Coercion[]; counts: Record<string, number> }> {
    const kept: Coercion[] = []
    const counts: Record<string, number> = {}
    const keyCols = (plan.key?.columns ?? []).map((_, i) => `k${i}`)
    const checks = coercionChecks(plan)
    const [row] = await this.rows(
      `SELECT count(*)::VARCHAR, COALESCE(sum(hash(${this.typedList(plan).join(', ')})), 0)::VARCHAR${checks.map((k) => `, (count(*) FILTER (WHERE ${k.count}))::VARCHAR`).join('')} FROM ${staged(STAGE)}`,
    )
    const sum: Checksum = { rows: Number(row?.[0] ?? 0), sum: `d:${row?.[1] ?? '0'}` }
    for (const [i, { c, where, index }] of checks.entries()) {
      const total = Number(row?.[2 + i] ?? 0)
      if (total === 0) continue
      counts[c.target] = total
      const rows = await this.rows(`SELECT ${keyCols.length ? `to_json([${keyCols.join(', ')}])::VARCHAR` : `'?'`}, s${index} FROM ${staged(STAGE)} WHERE ${where} LIMIT ${keep}`)
      const stored = c.rule!.boolFromInt ? 'true' : null
      const reason = c.rule!.boolFromInt ? 'tinyint(1) value other than 0/1 -> true' : `not representable as ${c.duckdbType} -> NULL`
      for (const [key, original] of rows) kept.push({ column: c.target, key: key ?? '?', original: original ?? null, stored, reason })
    }
    return { sum, kept, counts }
  }

  /** A key range condition (lo, hi] on the target, the bounds given as the source's key text. */
  rangeWhere(plan: TablePlan, lo: string[] | null, hi: string[] | null): string {
    const keyCols = plan.targetKey
    const types = keyCols.map((k) => plan.columns.find((c) => c.target === k)!.duckdbType)
    const val = (v: string, i: number) => `CAST(${lit(v)} AS ${types[i]})`
    const gt = (vals: string[]) =>
      `(${keyCols.map((_, i) => `(${[...keyCols.slice(0, i).map((k, j) => `${q(k)} = ${val(vals[j]!, j)}`), `${q(keyCols[i]!)} > ${val(vals[i]!, i)}`].join(' AND ')})`).join(' OR ')})`
    const conds: string[] = []
    if (lo) conds.push(gt(lo))
    if (hi) conds.push(`NOT ${gt(hi)}`)
    return conds.length ? conds.join(' AND ') : 'true'
  }

  /** Stores a staged chunk: telemetry through the store's bulk path (idempotent by entry id); a generic
   * table by replacing the chunk's key range in one transaction. */
  async commitStaged(plan: TablePlan, entryId: string, lo: string[] | null, hi: string[] | null): Promise<void> {
    const typed = this.typedList(plan)
    if (plan.targetKind === 'telemetry') {
      await this.store.appendSelect(entryId, `SELECT ${typed.join(', ')} FROM ${staged(STAGE)}`)
      return
    }
    const cols = plan.columns.map((c) => q(c.target)).join(', ')
    await this.conn(async (c) => {
      await c.run('BEGIN TRANSACTION')
      try {
        await c.run(`DELETE FROM ${q(plan.targetTable)} WHERE ${plan.targetKey.length ? this.rangeWhere(plan, lo, hi) : 'true'}`)
        await c.run(`INSERT INTO ${q(plan.targetTable)} (${cols}) SELECT ${typed.join(', ')} FROM ${staged(STAGE)}`)
        await c.run('COMMIT')
      } catch (e) {
        await c.run('ROLLBACK').catch(() => undefined)
        const msg = (e as Error).message
        throw new OpsError(/constraint|NOT NULL|duplicate/i.test(msg) ? 'OPS_E_MIGRATE_CONFLICT' : 'OPS_E_TARGET', `${plan.id} -> DuckDB ${plan.targetTable}: storing the chunk after ${lo ? JSON.stringify(lo) : 'the start'} failed: ${msg}`)
      }
    })
  }

  private targetColumns(plan: TablePlan): string {
    return plan.columns.map((c) => q(c.target)).join(', ')
  }

  private targetRelation(plan: TablePlan): string {
    return plan.targetKind === 'telemetry' ? 'telemetry' : q(plan.targetTable)
  }

  /** The checksum of telemetry's hot rows only (in the telemetry view's form: the same columns, the same hash). */
  async hotChecksum(plan: TablePlan): Promise<Checksum> {
    return this.checksumOf(`SELECT count(*)::VARCHAR, COALESCE(sum(hash(${this.targetColumns(plan)})), 0)::VARCHAR FROM (${HOT_ROWS})`)
  }

  async targetChecksum(plan: TablePlan, lo: string[] | null = null, hi: string[] | null = null): Promise<Checksum> {
    const where = plan.targetKey.length && (lo || hi) ? this.rangeWhere(plan, lo, hi) : 'true'
    return this.checksumOf(`SELECT count(*)::VARCHAR, COALESCE(sum(hash(${this.targetColumns(plan)})), 0)::VARCHAR FROM ${this.targetRelation(plan)} WHERE ${where}`)
  }

  /**
   * Rows that differ between a staged copy of the source and the target (optionally one key range):
   * keys (or, for telemetry, source key and ts) of rows missing from the target, and of rows only there.
   */
  async diffStaged(plan: TablePlan, table: string, lo: string[] | null, hi: string[] | null): Promise<{ missing: string[]; extra: string[]; missingCount: number; extraCount: number }> {
    const typed = this.typedList(plan)
    const cols = this.targetColumns(plan)
    const where = plan.targetKey.length && (lo || hi) ? this.rangeWhere(plan, lo, hi) : 'true'
    const src = `SELECT ${typed.map((t, i) => `${t} AS ${q(plan.columns[i]!.target)}`).join(', ')} FROM ${staged(table)}`
    const tgt = `SELECT ${cols} FROM ${this.targetRelation(plan)} WHERE ${where}`
    await this.run(`CREATE OR REPLACE TABLE ${MISSING} AS ${src} EXCEPT ALL ${tgt}`)
    await this.run(`CREATE OR REPLACE TABLE ${EXTRA} AS ${tgt} EXCEPT ALL ${src}`)
    const label =
      plan.targetKey.length > 0
        ? `to_json([${plan.targetKey.map(q).join(', ')}])::VARCHAR`
        : plan.targetKind === 'telemetry'
          ? `'sensor ' || sensor_id || ' at ' || strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ')`
          : `'a row'`
    const [mc] = await this.rows(`SELECT count(*)::VARCHAR FROM ${MISSING}`)
    const [ec] = await this.rows(`SELECT count(*)::VARCHAR FROM ${EXTRA}`)
    const missing = (await this.rows(`SELECT ${label} FROM ${MISSING} ORDER BY 1 LIMIT 20`)).map((r) => r[0] ?? '')
    const extra = (await this.rows(`SELECT ${label} FROM ${EXTRA} ORDER BY 1 LIMIT 20`)).map((r) => r[0] ?? '')
    // Telemetry rows carry no source key in the target; name the source key range of the missing ones.
    if (plan.targetKind === 'telemetry' && plan.key && Number(mc?.[0] ?? 0) > 0) {
      const on = plan.columns.map((c, i) => `m.${q(c.target)} IS NOT DISTINCT FROM s.${typed[i]}`).join(' AND ')
      const [r] = await this.rows(`SELECT min(TRY_CAST(s.k0 AS HUGEINT))::VARCHAR, max(TRY_CAST(s.k0 AS HUGEINT))::VARCHAR, min(s.k0), max(s.k0) FROM ${staged(table)} s JOIN ${MISSING} m ON ${on}`)
      if (r) missing.unshift(`source ${plan.key.columns[0]} from ${r[0] ?? r[2]} to ${r[1] ?? r[3]}`)
    }
    await this.run(`DROP TABLE IF EXISTS ${MISSING}; DROP TABLE IF EXISTS ${EXTRA}`)
    return { missing, extra, missingCount: Number(mc?.[0] ?? 0), extraCount: Number(ec?.[0] ?? 0) }
  }

  async appendStage(from: string, to: string): Promise<void> {
    await this.run(`CREATE TABLE IF NOT EXISTS ${staged(to)} AS SELECT * FROM ${staged(from)} LIMIT 0; INSERT INTO ${staged(to)} SELECT * FROM ${staged(from)}`)
  }

  async dropStage(table = STAGE): Promise<void> {
    await this.run(`DROP TABLE IF EXISTS ${staged(table)}`)
  }

  async count(plan: TablePlan): Promise<number> {
    const [r] = await this.rows(`SELECT count(*)::VARCHAR FROM ${this.targetRelation(plan)}`)
    return Number(r?.[0] ?? 0)
  }

  async clear(plan: TablePlan): Promise<void> {
    if (plan.targetKind === 'telemetry') {
      throw new OpsError('OPS_E_MIGRATE_STATE', `${plan.id}: telemetry cannot be cleared by the migration; a source table without a key cannot be resumed into it. Restore telemetry.duckdb from before the copy, or give the source table a key.`)
    }
    await this.run(`DELETE FROM ${q(plan.targetTable)}`)
  }

  /** Seals the hot rows into sorted partitions, as the service would, so it starts with nothing to do. */
  async compact(): Promise<number> {
    let steps = 0
    while ((await this.store.compact(Date.now() + 365 * 86_400_000)).kind !== 'none') steps++
    return steps
  }

  async exportCsv(select: string, file: string): Promise<void> {
    await this.run(`COPY (${select}) TO ${lit(file)} (FORMAT csv, HEADER false)`)
  }
}

/** Telemetry chunks are appended with an entry id of digits and dashes (the store's id format), made
 * unique per source table and chunk. Redis stream ids are <ms>-<seq>; these start with 0- and have
 * three parts, so they never collide, and the worker's retention forgets them like any other. */
export function telemetryEntryId(tableId: string, chunkNo: number): string {
  let h = 0
  for (let i = 0; i < tableId.length; i++) h = (Math.imul(h, 31) + tableId.charCodeAt(i)) >>> 0
  return `0-${h % 1_000_000}-${chunkNo}`
}
