// The SQLite target: the service's own ocean.db, opened (and its schema created) by the service's
// openSqlite, so the file is exactly what the service opens afterwards. Tables that do not map onto
// the service's schema get a table of their own, typed by the type rules. Writes are upserts by key
// in one transaction per chunk, so repeating a chunk (after a kill -9) changes nothing.
import fs from 'node:fs'
import path from 'node:path'
import type Database from 'better-sqlite3'
import { openSqlite } from '@ocean-ops/ocean/stores/sqlite-db'
import { OpsError } from '@ocean-ops/common'
import type { SqliteValue } from '../values/canonical-row.ts'
import { RowSum, type Checksum } from '../values/checksum.ts'
import type { TablePlan, TargetColumnInfo } from '../plan/mapping.ts'
import type { RowConverter } from '../plan/row-converter.ts'
import { quoteSqlIdent as q } from '../values/sql-ident.ts'

export const SQLITE_FILE = 'ocean.db'

/** The service opens <dir>/ocean.db (and <dir>/telemetry.duckdb): accept that file or its directory. */
export function resolveServiceFile(arg: string, file: string, flag: string): { dir: string; file: string } {
  const abs = path.resolve(arg)
  if (path.basename(abs) === file) return { dir: path.dirname(abs), file: abs }
  if ((fs.existsSync(abs) && fs.statSync(abs).isDirectory()) || path.extname(abs) === '') return { dir: abs, file: path.join(abs, file) }
  throw new OpsError('OPS_E_USAGE', `${flag} ${arg}: the service opens <data dir>/${file}; pass that file or the data directory`)
}

const uniqueIndexName = (plan: TablePlan, i: number) => `${plan.targetTable}_u${i + 1}`

/** Rows per INSERT statement of a copy (see writer), and SQLite's limit on a statement's parameters. */
const ROWS_PER_INSERT = 32
const MAX_PARAMS = 32766

/** An upsert by the plan's key (a plain insert without one) of `rows` rows in one statement. */
function insertSql(plan: TablePlan, rows: number): string {
  const cols = plan.columns.map((c) => q(c.target))
  const tuple = `(${cols.map(() => '?').join(', ')})`
  let sql = `INSERT INTO ${q(plan.targetTable)} (${cols.join(', ')}) VALUES ${Array.from({ length: rows }, () => tuple).join(', ')}`
  if (plan.targetKey.length) {
    const rest = plan.columns.filter((c) => !plan.targetKey.includes(c.target)).map((c) => `${q(c.target)} = excluded.${q(c.target)}`)
    sql += ` ON CONFLICT (${plan.targetKey.map(q).join(', ')}) DO ${rest.length ? `UPDATE SET ${rest.join(', ')}` : 'NOTHING'}`
  }
  return sql
}

export interface TableWriter {
  /** Writes a row (buffered: a refusal may surface at a later put or at commit); `key` names it in errors. */
  put(values: SqliteValue[], key?: () => string): void
  begin(): void
  commit(): void
  rollback(): void
}

export interface FkViolation {
  table: string
  rowid: number | null
  parent: string
}

export class SqliteTarget {
  private constructor(readonly db: Database.Database, readonly file: string) {}

  static open(arg: string): SqliteTarget {
    const { dir, file } = resolveServiceFile(arg, SQLITE_FILE, '--sqlite')
    let db: Database.Database
    try {
      db = openSqlite(dir)
    } catch (e) {
      throw new OpsError('OPS_E_TARGET', `cannot open ${file}: ${(e as Error).message}`)
    }
    // This connection only: the copy checks foreign keys at the end (tables load in any order), and a
    // process crash (not a power cut) loses nothing with synchronous=OFF in WAL mode.
    db.pragma('foreign_keys = OFF')
    db.pragma('synchronous = OFF')
    db.pragma('cache_size = -262144')
    db.pragma('temp_store = MEMORY')
    return new SqliteTarget(db, file)
  }

  close(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)')
    this.db.close()
  }

  columns(table: string): TargetColumnInfo[] {
    return (this.db.prepare(`PRAGMA table_info(${q(table)})`).all() as Array<{ name: string; type: string; notnull: number; pk: number }>).map((c) => ({
      name: c.name,
      type: c.type,
      notnull: c.notnull === 1,
      pk: c.pk,
    }))
  }

  /**
   * Creates a generic table (not part of the service's schema) as the type rules say, if missing, with
   * its unique indexes — or, with `deferUnique` (a copy about to fill it), without them while it is
   * empty: they are built once at the end (uniqueIndexes), a sort instead of a random insertion per
   * row into each index (measured: 1 M invoices, 9.2 s of inserts -> 6.1 s with the build).
   */
  ensureTable(plan: TablePlan, opts: { deferUnique?: boolean } = {}): void {
    if (plan.serviceTable) return
    const cols = plan.columns.map((c) => {
      const check = plan.enumChecks[c.target]
      const checkSql = check ? ` CHECK (${q(c.target)} IN (${check.map((l) => `'${l.replace(/'/g, "''")}'`).join(', ')}))` : ''
      return `${q(c.target)} ${c.sqliteType}${c.notNull ? ' NOT NULL' : ''}${checkSql}`
    })
    if (plan.targetKey.length) cols.push(`PRIMARY KEY (${plan.targetKey.map(q).join(', ')})`)
    const existing = this.columns(plan.targetTable)
    if (existing.length) {
      // Made by an earlier run with another mapping: writing into it would convert values by the
      // wrong column types (SQLite's affinity) and the verification would fail on every row.
      const have = existing.map((c) => `${c.name} ${c.type}`).join(', ')
      const want = plan.columns.map((c) => `${c.target} ${c.sqliteType}`).join(', ')
      if (have !== want) {
        throw new OpsError('OPS_E_TARGET', `${this.file}: table ${plan.targetTable} exists as (${have}) but this mapping makes (${want}); an earlier run with another mapping made it. Drop it (sqlite3 ${this.file} 'DROP TABLE "${plan.targetTable}"') or use another --sqlite`)
      }
    }
    this.db.exec(`CREATE TABLE IF NOT EXISTS ${q(plan.targetTable)} (\n  ${cols.join(',\n  ')}\n)`)
    if (!opts.deferUnique) return this.uniqueIndexes(plan)
    if (this.db.prepare(`SELECT 1 FROM ${q(plan.targetTable)} LIMIT 1`).get()) return
    plan.uniqueIndexes.forEach((_, i) => this.db.exec(`DROP INDEX IF EXISTS ${q(uniqueIndexName(plan, i))}`))
  }

  /** Builds the generic table's unique indexes if missing; a duplicate is an error naming its rows. */
  uniqueIndexes(plan: TablePlan): void {
    if (plan.serviceTable) return
    plan.uniqueIndexes.forEach((u, i) => {
      try {
        this.db.exec(`CREATE UNIQUE INDEX IF NOT EXISTS ${q(uniqueIndexName(plan, i))} ON ${q(plan.targetTable)} (${u.map(q).join(', ')})`)
      } catch (e) {
        if (!String((e as { code?: string }).code ?? '').startsWith('SQLITE_CONSTRAINT')) throw e
        const key = plan.targetKey.length ? plan.targetKey : ['rowid']
        const dups = this.db
          .prepare(`SELECT ${u.map(q).join(" || ', ' || ")} AS v, group_concat(${key.map(q).join(" || ',' || ")}, '; ') AS k FROM ${q(plan.targetTable)} GROUP BY ${u.map(q).join(', ')} HAVING count(*) > 1 LIMIT 5`)
          .all() as Array<{ v: string; k: string }>
        const list = dups.map((d) => `(${u.join(', ')}) = (${d.v}) at ${key.join(',')} ${d.k}`).join('; ')
        throw new OpsError('OPS_E_MIGRATE_CONFLICT', `${plan.id} -> ${plan.targetTable}: rows share values of a unique key, so its unique index cannot be built: ${list}. Fix them in the source (or map the table without that index), then run again with --resume.`)
      }
    })
  }

  /**
   * Upserts rows by key (plain inserts without one), ROWS_PER_INSERT rows to a statement: a row per
   * statement costs as much again in statement overhead (measured: 1 M invoice rows, 6.0 s one by one,
   * 3.9 s 32 to a statement). A statement the target refuses is undone whole and its rows are tried
   * one by one, so the error names the row (`key`, or its position in the transaction).
   */
  writer(plan: TablePlan): TableWriter {
    const width = Math.max(1, plan.columns.length)
    const per = Math.max(1, Math.min(ROWS_PER_INSERT, Math.floor(MAX_PARAMS / width)))
    const one = this.db.prepare(insertSql(plan, 1))
    const many = per > 1 ? this.db.prepare(insertSql(plan, per)) : null
    const begin = this.db.prepare('BEGIN')
    const commit = this.db.prepare('COMMIT')
    const rollback = this.db.prepare('ROLLBACK')
    const rows: SqliteValue[][] = []
    const keys: Array<(() => string) | undefined> = []
    let position = 0
    const clear = () => {
      rows.length = 0
      keys.length = 0
    }
    const single = (i: number) => {
      try {
        one.run(rows[i])
      } catch (err) {
        const key = keys[i]
        throw conflictError(plan, key ? key() : `at row ${position - rows.length + i + 1} of the transaction`, err)
      }
    }
    const flush = () => {
      try {
        if (many && rows.length === per) {
          const flat: SqliteValue[] = []
          for (const r of rows) for (let i = 0; i < width; i++) flat.push(r[i] ?? null)
          try {
            many.run(flat)
            return
          } catch {
            // Undone whole: the rows one by one name the one refused.
          }
        }
        for (let i = 0; i < rows.length; i++) single(i)
      } finally {
        clear()
      }
    }
    return {
      put: (values, key) => {
        position++
        rows.push(values)
        keys.push(key)
        if (rows.length === per) flush()
      },
      begin: () => {
        position = 0
        begin.run()
      },
      commit: () => {
        flush()
        commit.run()
      },
      rollback: () => {
        clear()
        if (this.db.inTransaction) rollback.run()
      },
    }
  }

  count(plan: TablePlan): number {
    return Number((this.db.prepare(`SELECT count(*) AS n FROM ${q(plan.targetTable)}`).get() as { n: number }).n)
  }

  deleteKeys(plan: TablePlan, keys: SqliteValue[][]): number {
    const stmt = this.db.prepare(`DELETE FROM ${q(plan.targetTable)} WHERE (${plan.targetKey.map(q).join(', ')}) = (${plan.targetKey.map(() => '?').join(', ')})`)
    let n = 0
    this.db.transaction(() => {
      for (const k of keys) n += stmt.run(k).changes
    })()
    return n
  }

  clear(plan: TablePlan): void {
    this.db.prepare(`DELETE FROM ${q(plan.targetTable)}`).run()
  }

  foreignKeyViolations(limit = 100): FkViolation[] {
    return (this.db.prepare('PRAGMA foreign_key_check').all() as Array<{ table: string; rowid: number | null; parent: string }>).slice(0, limit)
  }
}

/**
 * Count and checksum of the target's rows, in canonical form, within the source key range (lo, hi]
 * (the whole table when the plan's ranges do not line up), on any connection to the file: the
 * verification's, or the copy's read-back worker's (target-sums.ts). `each` sees every canonical row.
 */
export function targetRangeSum(db: Database.Database, conv: RowConverter, lo: string[] | null, hi: string[] | null, each?: (canon: (string | null)[]) => void): Checksum {
  const plan = conv.plan
  const { sql, params } = rangeRowsSql(plan, lo && plan.rangeVerifiable ? conv.storeKey(lo) : null, hi && plan.rangeVerifiable ? conv.storeKey(hi) : null)
  const sum = new RowSum()
  for (const values of db.prepare(sql).raw(true).safeIntegers(true).iterate(...params)) {
    const canon = conv.fromTarget(values as unknown[])
    sum.add(canon)
    each?.(canon)
  }
  return sum.checksum()
}

/** The SELECT of the plan's target columns (integers as BigInt) within a key range (lo, hi] (either end open when null). */
function rangeRowsSql(plan: TablePlan, lo: SqliteValue[] | null, hi: SqliteValue[] | null): { sql: string; params: SqliteValue[] } {
  const k = `(${plan.targetKey.map(q).join(', ')})`
  const ph = `(${plan.targetKey.map(() => '?').join(', ')})`
  const conds: string[] = []
  const params: SqliteValue[] = []
  if (lo) {
    conds.push(`${k} > ${ph}`)
    params.push(...lo)
  }
  if (hi) {
    conds.push(`${k} <= ${ph}`)
    params.push(...hi)
  }
  const where = conds.length ? ` WHERE ${conds.join(' AND ')}` : ''
  return { sql: `SELECT ${plan.columns.map((c) => q(c.target)).join(', ')} FROM ${q(plan.targetTable)}${where}`, params }
}

/** Wraps a SQLite constraint failure with the table and the row's key, and what to do about it. */
export function conflictError(plan: TablePlan, key: string, e: unknown): OpsError {
  const msg = (e as Error).message
  const code = (e as { code?: string }).code ?? ''
  if (code.startsWith('SQLITE_CONSTRAINT')) {
    return new OpsError('OPS_E_MIGRATE_CONFLICT', `${plan.id} -> ${plan.targetTable}: the row with key ${key} breaks a constraint of the target (${msg}). Fix the row in the source (or map it differently), then run again with --resume.`)
  }
  if (e instanceof OpsError) return new OpsError(e.code, `${plan.id}, row ${key}: ${e.message}`)
  return new OpsError('OPS_E_TARGET', `${plan.id} -> ${plan.targetTable}: writing the row with key ${key} failed: ${msg}`)
}

/** Reads the canonical target row with a stored key, or null (the change log's rows, before and after they are applied). */
export function targetRowReader(db: Database.Database, conv: RowConverter): (key: SqliteValue[]) => (string | null)[] | null {
  const plan = conv.plan
  const stmt = db
    .prepare(`SELECT ${plan.columns.map((c) => q(c.target)).join(', ')} FROM ${q(plan.targetTable)} WHERE (${plan.targetKey.map(q).join(', ')}) = (${plan.targetKey.map(() => '?').join(', ')})`)
    .raw(true)
    .safeIntegers(true)
  return (key) => {
    const values = stmt.get(...key) as unknown[] | undefined
    return values ? conv.fromTarget(values) : null
  }
}

/** Orders stored keys as SQLite does (a range-verifiable plan's chunks are key ranges in that order). */
export function keyComparer(db: Database.Database, width: number): (a: SqliteValue[], b: SqliteValue[]) => number {
  const ph = `(${Array.from({ length: width }, () => '?').join(', ')})`
  const stmt = db.prepare(`SELECT CASE WHEN ${ph} < ${ph} THEN -1 WHEN ${ph} = ${ph} THEN 0 ELSE 1 END`).pluck()
  return (a, b) => Number(stmt.get(...a, ...b, ...a, ...b))
}
