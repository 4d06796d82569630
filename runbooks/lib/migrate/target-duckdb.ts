// The DuckDB target: the service's telemetry.duckdb, opened through the service's TelemetryStore
// (which creates its schema). Rows are staged in bulk — the source's CSV read by DuckDB's own
// reader, no per-value JavaScript — into a VARCHAR table; the type rules' casts turn them into the
// target types on the way in. Checksums here are DuckDB's: count and sum(hash(typed columns)),
// computed over the staged source rows and over the target, both inside DuckDB.
import fs from 'node:fs'
import path from 'node:path'
import type { DuckDBConnection } from '@duckdb/node-api'
import { TelemetryStore } from '../../../services/ocean/src/stores/duckdb-store.ts'
import { OpsError } from '../ops-error.ts'
import type { Checksum } from './checksum.ts'
import type { Coercion } from './checkpoints.ts'
import type { TablePlan } from './mapping.ts'
import { resolveServiceFile } from './target-sqlite.ts'
import { duckdbCast, duckdbCoercedWhere } from './type-rules.ts'

export const DUCKDB_FILE = 'telemetry.duckdb'
const STAGE = 'migrate_stage'
const q = (ident: string) => `"${ident.replace(/"/g, '""')}"`
const lit = (v: string) => `'${v.replace(/'/g, "''")}'`

export interface DuckdbOptions {
  memoryLimit?: string
  threads?: number
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
        memoryLimit: opts.memoryLimit ?? '1GB',
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
    return new DuckdbTarget(store, file, stageDir)
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

  /** Loads a chunk's CSV (data columns s0.., then key columns k0..) into the staging table. */
  async stage(plan: TablePlan, file: string, table = STAGE): Promise<void> {
    const cols = [...plan.selects.map((_, i) => `'s${i}': 'VARCHAR'`), ...(plan.key?.columns ?? []).map((_, i) => `'k${i}': 'VARCHAR'`)]
    await this.run(
      `CREATE OR REPLACE TABLE ${table} AS SELECT * FROM read_csv(${lit(file)}, header = false, auto_detect = false, allow_quoted_nulls = false, delim = ',', quote = '"', escape = '"', columns = {${cols.join(', ')}})`,
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

  private async checksumOf(sql: string): Promise<Checksum> {
    const [row] = await this.rows(sql)
    return { rows: Number(row?.[0] ?? 0), sum: `d:${row?.[1] ?? '0'}` }
  }

  async stagedChecksum(plan: TablePlan, table = STAGE): Promise<Checksum> {
    return this.checksumOf(`SELECT count(*)::VARCHAR, COALESCE(sum(hash(${this.castList(plan).join(', ')})), 0)::VARCHAR FROM ${table}`)
  }

  /** Values the target type cannot hold (NULL after the cast) or tinyint(1) not 0/1, with their keys. */
  async stagedCoercions(plan: TablePlan, keep: number): Promise<{ kept: Coercion[]; counts: Record<string, number> }> {
    const kept: Coercion[] = []
    const counts: Record<string, number> = {}
    const keyCols = (plan.key?.columns ?? []).map((_, i) => `k${i}`)
    for (const c of plan.columns) {
      if (!c.rule || c.selectIndex === null) continue
      const where = duckdbCoercedWhere(c.rule, `s${c.selectIndex}`)
      if (!where) continue
      const [n] = await this.rows(`SELECT count(*)::VARCHAR FROM ${STAGE} WHERE ${where}`)
      const total = Number(n?.[0] ?? 0)
      if (total === 0) continue
      counts[c.target] = total
      const rows = await this.rows(`SELECT ${keyCols.length ? `to_json([${keyCols.join(', ')}])::VARCHAR` : `'?'`}, s${c.selectIndex} FROM ${STAGE} WHERE ${where} LIMIT ${keep}`)
      const stored = c.rule.boolFromInt ? 'true' : null
      const reason = c.rule.boolFromInt ? 'tinyint(1) value other than 0/1 -> true' : `not representable as ${c.duckdbType} -> NULL`
      for (const [key, original] of rows) kept.push({ column: c.target, key: key ?? '?', original: original ?? null, stored, reason })
    }
    return { kept, counts }
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
    const casts = this.castList(plan)
    if (plan.targetKind === 'telemetry') {
      await this.store.appendSelect(entryId, `SELECT ${casts.join(', ')} FROM ${STAGE}`)
      return
    }
    const cols = plan.columns.map((c) => q(c.target)).join(', ')
    await this.conn(async (c) => {
      await c.run('BEGIN TRANSACTION')
      try {
        await c.run(`DELETE FROM ${q(plan.targetTable)} WHERE ${plan.targetKey.length ? this.rangeWhere(plan, lo, hi) : 'true'}`)
        await c.run(`INSERT INTO ${q(plan.targetTable)} (${cols}) SELECT ${casts.join(', ')} FROM ${STAGE}`)
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

  async targetChecksum(plan: TablePlan, lo: string[] | null = null, hi: string[] | null = null): Promise<Checksum> {
    const where = plan.targetKey.length && (lo || hi) ? this.rangeWhere(plan, lo, hi) : 'true'
    return this.checksumOf(`SELECT count(*)::VARCHAR, COALESCE(sum(hash(${this.targetColumns(plan)})), 0)::VARCHAR FROM ${this.targetRelation(plan)} WHERE ${where}`)
  }

  /**
   * Rows that differ between a staged copy of the source and the target (optionally one key range):
   * keys (or, for telemetry, source key and ts) of rows missing from the target, and of rows only there.
   */
  async diffStaged(plan: TablePlan, table: string, lo: string[] | null, hi: string[] | null): Promise<{ missing: string[]; extra: string[]; missingCount: number; extraCount: number }> {
    const casts = this.castList(plan)
    const cols = this.targetColumns(plan)
    const where = plan.targetKey.length && (lo || hi) ? this.rangeWhere(plan, lo, hi) : 'true'
    const src = `SELECT ${casts.map((e, i) => `${e} AS ${q(plan.columns[i]!.target)}`).join(', ')} FROM ${table}`
    const tgt = `SELECT ${cols} FROM ${this.targetRelation(plan)} WHERE ${where}`
    await this.run(`CREATE OR REPLACE TABLE migrate_missing AS ${src} EXCEPT ALL ${tgt}`)
    await this.run(`CREATE OR REPLACE TABLE migrate_extra AS ${tgt} EXCEPT ALL ${src}`)
    const label =
      plan.targetKey.length > 0
        ? `to_json([${plan.targetKey.map(q).join(', ')}])::VARCHAR`
        : plan.targetKind === 'telemetry'
          ? `'sensor ' || sensor_id || ' at ' || strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ')`
          : `'a row'`
    const [mc] = await this.rows('SELECT count(*)::VARCHAR FROM migrate_missing')
    const [ec] = await this.rows('SELECT count(*)::VARCHAR FROM migrate_extra')
    const missing = (await this.rows(`SELECT ${label} FROM migrate_missing ORDER BY 1 LIMIT 20`)).map((r) => r[0] ?? '')
    const extra = (await this.rows(`SELECT ${label} FROM migrate_extra ORDER BY 1 LIMIT 20`)).map((r) => r[0] ?? '')
    // Telemetry rows carry no source key in the target; name the source key range of the missing ones.
    if (plan.targetKind === 'telemetry' && plan.key && Number(mc?.[0] ?? 0) > 0) {
      const on = plan.columns.map((c, i) => `m.${q(c.target)} IS NOT DISTINCT FROM ${casts[i]!.replace(/\bs(\d+)\b/g, 's.s$1')}`).join(' AND ')
      const [r] = await this.rows(`SELECT min(TRY_CAST(s.k0 AS HUGEINT))::VARCHAR, max(TRY_CAST(s.k0 AS HUGEINT))::VARCHAR, min(s.k0), max(s.k0) FROM ${table} s JOIN migrate_missing m ON ${on}`)
      if (r) missing.unshift(`source ${plan.key.columns[0]} from ${r[0] ?? r[2]} to ${r[1] ?? r[3]}`)
    }
    await this.run('DROP TABLE IF EXISTS migrate_missing; DROP TABLE IF EXISTS migrate_extra')
    return { missing, extra, missingCount: Number(mc?.[0] ?? 0), extraCount: Number(ec?.[0] ?? 0) }
  }

  async appendStage(from: string, to: string): Promise<void> {
    await this.run(`CREATE TABLE IF NOT EXISTS ${to} AS SELECT * FROM ${from} LIMIT 0; INSERT INTO ${to} SELECT * FROM ${from}`)
  }

  async dropStage(table = STAGE): Promise<void> {
    await this.run(`DROP TABLE IF EXISTS ${table}`)
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
