// Consistent copies of the two databases for backups, written beside the live files in
// <data>/snapshots/ and swapped in whole (a reader never sees half a file): SQLite through
// VACUUM INTO (one read transaction: every write committed before it began is in the copy,
// WAL or not), DuckDB by its owner (TelemetryStore.snapshot). The backup container reads them.
import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import type { SqliteDb } from './sqlite-db.ts'

export const SNAPSHOT_DIR = 'snapshots'
export const SQLITE_SNAPSHOT = 'sqlite/ocean.db'
export const DUCKDB_SNAPSHOT = 'duckdb/telemetry.duckdb'

export interface SnapshotTaken {
  /** Relative to the data directory. */
  file: string
  /** When its read began: every write acknowledged before this instant is in it. */
  takenAt: string
  bytes: number
  ms: number
}

export function snapshotPaths(dataDir: string): { sqlite: string; duckdb: string } {
  return { sqlite: path.join(dataDir, SNAPSHOT_DIR, SQLITE_SNAPSHOT), duckdb: path.join(dataDir, SNAPSHOT_DIR, DUCKDB_SNAPSHOT) }
}

/** Writes `file` through `write(tmp)` and renames it into place; the temporary file never survives. */
export async function replaceWhole(file: string, write: (tmp: string) => Promise<void> | void): Promise<SnapshotTaken & { file: string }> {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.tmp-${process.pid}`
  fs.rmSync(tmp, { force: true })
  const t0 = performance.now()
  const takenAt = new Date().toISOString()
  try {
    await write(tmp)
    fs.chmodSync(tmp, 0o600)
    fs.renameSync(tmp, file)
  } finally {
    fs.rmSync(tmp, { force: true })
    fs.rmSync(`${tmp}.wal`, { force: true })
  }
  return { file, takenAt, bytes: fs.statSync(file).size, ms: performance.now() - t0 }
}

/** SQLite's consistent copy, left in rollback-journal mode so it opens read-only anywhere (no -shm needed). */
export function snapshotSqlite(db: SqliteDb, file: string): Promise<SnapshotTaken> {
  return replaceWhole(file, (tmp) => {
    db.prepare('VACUUM INTO ?').run(tmp)
    const copy = new Database(tmp)
    try {
      copy.pragma('journal_mode = DELETE')
    } finally {
      copy.close()
    }
  })
}
