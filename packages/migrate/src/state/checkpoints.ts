// Checkpoints of the data migration, in the journal's SQLite file (tables prefixed migrate_, beside
// the runbook journal's own): per table its status, the key the copy reached and the watermark
// taken before it started; per chunk its key range, row count and source checksum (and, once
// verified, the target's). A chunk is written to the target first and checkpointed after, so a
// kill -9 between the two repeats the chunk, which the targets make harmless (upserts by key;
// DuckDB telemetry chunks carry an id stored in the same transaction).
import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import type { Checksum } from '../values/checksum.ts'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS migrate_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS migrate_tables (
  table_id TEXT PRIMARY KEY,
  target TEXT NOT NULL,
  plan_hash TEXT NOT NULL,
  status TEXT NOT NULL,
  next_chunk INTEGER NOT NULL DEFAULT 0,
  last_key TEXT,
  copy_done INTEGER NOT NULL DEFAULT 0,
  rows_copied INTEGER NOT NULL DEFAULT 0,
  copy_ms REAL NOT NULL DEFAULT 0,
  verify_ms REAL NOT NULL DEFAULT 0,
  watermark TEXT,
  source_rows INTEGER,
  target_rows INTEGER,
  source_sum TEXT,
  target_sum TEXT,
  started_at TEXT,
  finished_at TEXT,
  detail TEXT
);
CREATE TABLE IF NOT EXISTS migrate_chunks (
  table_id TEXT NOT NULL,
  chunk_no INTEGER NOT NULL,
  lo TEXT,
  hi TEXT,
  rows INTEGER NOT NULL,
  source_sum TEXT NOT NULL,
  target_sum TEXT,
  status TEXT NOT NULL,
  copied_at TEXT NOT NULL,
  detail TEXT,
  PRIMARY KEY (table_id, chunk_no)
);
CREATE TABLE IF NOT EXISTS migrate_coercions (
  table_id TEXT NOT NULL,
  column_name TEXT NOT NULL,
  row_key TEXT NOT NULL,
  original TEXT,
  stored TEXT,
  reason TEXT NOT NULL,
  PRIMARY KEY (table_id, column_name, row_key)
);
CREATE TABLE IF NOT EXISTS migrate_coercion_counts (
  table_id TEXT NOT NULL, column_name TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (table_id, column_name)
);
CREATE TABLE IF NOT EXISTS migrate_marks (name TEXT PRIMARY KEY, at TEXT NOT NULL, data TEXT NOT NULL);
`

/** At most this many coerced values per table and column are kept with their keys; all are counted. */
export const COERCIONS_KEPT = 1000

export type TableStatus = 'copying' | 'copied' | 'verified' | 'mismatch'

export interface TableState {
  table_id: string
  target: string
  plan_hash: string
  status: TableStatus
  next_chunk: number
  /** JSON array of the key's source text; null before the first chunk. */
  last_key: string | null
  copy_done: number
  rows_copied: number
  copy_ms: number
  verify_ms: number
  watermark: string | null
  source_rows: number | null
  target_rows: number | null
  source_sum: string | null
  target_sum: string | null
  started_at: string | null
  finished_at: string | null
  detail: string | null
}

export interface ChunkState {
  table_id: string
  chunk_no: number
  lo: string | null
  hi: string | null
  rows: number
  source_sum: string
  target_sum: string | null
  status: 'copied' | 'verified' | 'mismatch'
  copied_at: string
  detail: string | null
}

export interface Coercion {
  column: string
  /** Canonical key of the row (or its position in a table without a key). */
  key: string
  original: string | null
  stored: string | null
  reason: string
}

export interface ChunkCommit {
  chunkNo: number
  lo: string[] | null
  hi: string[] | null
  checksum: Checksum
}

const now = () => new Date().toISOString()

export class Checkpoints {
  private constructor(readonly db: Database.Database) {}

  static open(file: string): Checkpoints {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    db.pragma('busy_timeout = 5000')
    db.exec(SCHEMA)
    return new Checkpoints(db)
  }

  close(): void {
    this.db.close()
  }

  meta(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM migrate_meta WHERE key = ?').get(key) as { value: string } | undefined)?.value
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO migrate_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value)
  }

  table(id: string): TableState | undefined {
    return this.db.prepare('SELECT * FROM migrate_tables WHERE table_id = ?').get(id) as TableState | undefined
  }

  tables(): TableState[] {
    return this.db.prepare('SELECT * FROM migrate_tables ORDER BY table_id').all() as TableState[]
  }

  /** Starts (or restarts from scratch) the copy of a table: its chunks and coercions are forgotten. */
  startTable(id: string, target: string, planHash: string, watermark: string | null): TableState {
    this.db.transaction(() => {
      this.forget(id)
      this.db
        .prepare('INSERT INTO migrate_tables (table_id, target, plan_hash, status, watermark, started_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(id, target, planHash, 'copying', watermark, now())
    })()
    return this.table(id) as TableState
  }

  forget(id: string): void {
    this.db.prepare('DELETE FROM migrate_tables WHERE table_id = ?').run(id)
    this.db.prepare('DELETE FROM migrate_chunks WHERE table_id = ?').run(id)
    this.db.prepare('DELETE FROM migrate_coercions WHERE table_id = ?').run(id)
    this.db.prepare('DELETE FROM migrate_coercion_counts WHERE table_id = ?').run(id)
  }

  chunks(id: string): ChunkState[] {
    return this.db.prepare('SELECT * FROM migrate_chunks WHERE table_id = ? ORDER BY chunk_no').all(id) as ChunkState[]
  }

  /** Records a chunk the target has committed, with its coercions, and moves the table's cursor past it. */
  commitChunk(id: string, c: ChunkCommit, coercions: Coercion[], progress: { copyMs: number; done: boolean }, counts?: Record<string, number>): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO migrate_chunks (table_id, chunk_no, lo, hi, rows, source_sum, status, copied_at) VALUES (?, ?, ?, ?, ?, ?, 'copied', ?)
           ON CONFLICT (table_id, chunk_no) DO UPDATE SET lo = excluded.lo, hi = excluded.hi, rows = excluded.rows, source_sum = excluded.source_sum,
             target_sum = NULL, status = 'copied', copied_at = excluded.copied_at, detail = NULL`,
        )
        .run(id, c.chunkNo, c.lo && JSON.stringify(c.lo), c.hi && JSON.stringify(c.hi), c.checksum.rows, c.checksum.sum, now())
      this.recordCoercions(id, coercions, counts)
      this.db
        .prepare(
          `UPDATE migrate_tables SET next_chunk = ?, last_key = COALESCE(?, last_key), rows_copied = rows_copied + ?, copy_ms = copy_ms + ?,
             copy_done = ?, status = CASE WHEN ? THEN 'copied' ELSE status END WHERE table_id = ?`,
        )
        .run(c.chunkNo + 1, c.hi && JSON.stringify(c.hi), c.checksum.rows, progress.copyMs, progress.done ? 1 : 0, progress.done ? 1 : 0, id)
    })()
  }

  /** Keeps the first COERCIONS_KEPT per column; counts all of them (`counts` when the caller counted). */
  recordCoercions(id: string, coercions: Coercion[], counts?: Record<string, number>): void {
    const add = this.db.prepare('INSERT INTO migrate_coercion_counts (table_id, column_name, n) VALUES (?, ?, ?) ON CONFLICT (table_id, column_name) DO UPDATE SET n = n + excluded.n')
    for (const [column, n] of Object.entries(counts ?? {})) add.run(id, column, n)
    if (coercions.length === 0) return
    const keep = this.db.prepare('INSERT OR REPLACE INTO migrate_coercions (table_id, column_name, row_key, original, stored, reason) VALUES (?, ?, ?, ?, ?, ?)')
    const count = this.db.prepare('INSERT INTO migrate_coercion_counts (table_id, column_name, n) VALUES (?, ?, 1) ON CONFLICT (table_id, column_name) DO UPDATE SET n = n + 1')
    const kept = this.db.prepare('SELECT count(*) AS n FROM migrate_coercions WHERE table_id = ? AND column_name = ?')
    for (const c of coercions) {
      if (!counts) count.run(id, c.column)
      if ((kept.get(id, c.column) as { n: number }).n < COERCIONS_KEPT) keep.run(id, c.column, c.key, c.original, c.stored, c.reason)
    }
  }

  /** Marks a table's copy as finished without a further chunk (e.g. a resumed copy that had already reached the end). */
  finishCopy(id: string): void {
    this.db.prepare("UPDATE migrate_tables SET copy_done = 1, status = 'copied' WHERE table_id = ?").run(id)
  }

  /** Restarts the copy of a table without a key: its rows are removed from the target and copied again. */
  restartCopy(id: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM migrate_chunks WHERE table_id = ?').run(id)
      this.db.prepare('DELETE FROM migrate_coercions WHERE table_id = ?').run(id)
      this.db.prepare('DELETE FROM migrate_coercion_counts WHERE table_id = ?').run(id)
      this.db.prepare("UPDATE migrate_tables SET next_chunk = 0, last_key = NULL, rows_copied = 0, copy_done = 0, status = 'copying' WHERE table_id = ?").run(id)
    })()
  }

  setChunkResult(id: string, chunkNo: number, target: Checksum, ok: boolean, detail?: string): void {
    this.db
      .prepare('UPDATE migrate_chunks SET target_sum = ?, status = ?, detail = ? WHERE table_id = ? AND chunk_no = ?')
      .run(`${target.rows}:${target.sum}`, ok ? 'verified' : 'mismatch', detail ?? null, id, chunkNo)
  }

  /** Replaces a chunk's source checksum (a re-read of the source, in --verify-only or --delta). */
  setChunkSource(id: string, chunkNo: number, source: Checksum): void {
    this.db.prepare('UPDATE migrate_chunks SET rows = ?, source_sum = ? WHERE table_id = ? AND chunk_no = ?').run(source.rows, source.sum, id, chunkNo)
  }

  finishVerify(id: string, r: { ok: boolean; source: Checksum; target: Checksum; verifyMs: number; detail?: string }): void {
    this.db
      .prepare(
        `UPDATE migrate_tables SET status = ?, source_rows = ?, target_rows = ?, source_sum = ?, target_sum = ?, verify_ms = ?, detail = ?,
           finished_at = ? WHERE table_id = ?`,
      )
      .run(r.ok ? 'verified' : 'mismatch', r.source.rows, r.target.rows, r.source.sum, r.target.sum, r.verifyMs, r.detail ?? null, now(), id)
  }

  setWatermark(id: string, watermark: string | null): void {
    this.db.prepare('UPDATE migrate_tables SET watermark = ? WHERE table_id = ?').run(watermark, id)
  }

  setStatus(id: string, status: TableStatus, detail?: string): void {
    this.db.prepare('UPDATE migrate_tables SET status = ?, detail = ? WHERE table_id = ?').run(status, detail ?? null, id)
  }

  coercions(id: string): { kept: Array<Coercion>; counts: Record<string, number> } {
    const kept = (this.db.prepare('SELECT column_name, row_key, original, stored, reason FROM migrate_coercions WHERE table_id = ? ORDER BY column_name, row_key').all(id) as Array<{
      column_name: string
      row_key: string
      original: string | null
      stored: string | null
      reason: string
    }>).map((r) => ({ column: r.column_name, key: r.row_key, original: r.original, stored: r.stored, reason: r.reason }))
    const counts: Record<string, number> = {}
    for (const r of this.db.prepare('SELECT column_name, n FROM migrate_coercion_counts WHERE table_id = ?').all(id) as Array<{ column_name: string; n: number }>) counts[r.column_name] = r.n
    return { kept, counts }
  }

  setMark(name: string, data: unknown): void {
    this.db.prepare('INSERT INTO migrate_marks (name, at, data) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET at = excluded.at, data = excluded.data').run(name, now(), JSON.stringify(data))
  }

  mark<T>(name: string): { at: string; data: T } | undefined {
    const r = this.db.prepare('SELECT at, data FROM migrate_marks WHERE name = ?').get(name) as { at: string; data: string } | undefined
    return r && { at: r.at, data: JSON.parse(r.data) as T }
  }
}
