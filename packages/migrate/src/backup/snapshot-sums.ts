// What a backup's drill compares: per table of each snapshot file, the row count and the engine's
// chunk checksums — SQLite rows in primary-key order, CHUNK_ROWS to a chunk, each canonical row
// (text form of every column) summed by the engine's RowSum; DuckDB tables by DuckDB's own count
// and sum(hash(*)), as the migration verifies DuckDB. Written into a manifest beside the files when
// the snapshot is taken, recomputed on the restored files by the drill.
import fs from 'node:fs'
import Database from 'better-sqlite3'
import { DuckDBInstance } from '@duckdb/node-api'
import { RowSum, sameChecksum, type Checksum } from '../values/checksum.ts'

export const CHUNK_ROWS = 10_000

export interface TableSums {
  rows: number
  chunks: Checksum[]
}

export type FileSums = Record<string, TableSums>

export interface SumsMismatch {
  table: string
  what: string
}

function canonical(v: unknown): string | null {
  if (v === null || v === undefined) return null
  if (Buffer.isBuffer(v)) return `x:${v.toString('hex')}`
  return String(v)
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** SQLite file sums, opened read-only (the snapshot is in rollback-journal mode). */
export function sqliteSums(file: string): FileSums {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    db.defaultSafeIntegers(true)
    const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((t) => t.name)
    const out: FileSums = {}
    for (const t of tables) {
      const pk = (db.prepare(`SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`).all(t) as Array<{ name: string }>).map((c) => quote(c.name))
      const order = pk.length ? pk.join(', ') : 'rowid'
      const chunks: Checksum[] = []
      let sum = new RowSum()
      let rows = 0
      for (const row of db.prepare(`SELECT * FROM ${quote(t)} ORDER BY ${order}`).raw(true).iterate() as Iterable<unknown[]>) {
        sum.add(row.map(canonical))
        rows++
        if (sum.rows === CHUNK_ROWS) {
          chunks.push(sum.checksum())
          sum = new RowSum()
        }
      }
      if (sum.rows > 0 || chunks.length === 0) chunks.push(sum.checksum())
      out[t] = { rows, chunks }
    }
    return out
  } finally {
    db.close()
  }
}

/** DuckDB file sums, opened read-only: every base table's count and sum(hash(all columns)). */
export async function duckdbSums(file: string): Promise<FileSums> {
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist`)
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY', threads: '2', memory_limit: '256MB' })
  const c = await instance.connect()
  try {
    const tables = (await c.runAndReadAll("SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema = 'main' ORDER BY table_name")).getRows().map((r) => String(r[0]))
    const out: FileSums = {}
    for (const t of tables) {
      const cols = (await c.runAndReadAll(`SELECT column_name FROM information_schema.columns WHERE table_name = '${t.replace(/'/g, "''")}' AND table_schema = 'main' ORDER BY ordinal_position`)).getRows().map((r) => quote(String(r[0])))
      const r = (await c.runAndReadAll(`SELECT count(*)::VARCHAR, COALESCE(sum(hash(${cols.join(', ')})), 0)::VARCHAR FROM ${quote(t)}`)).getRows()[0]
      const rows = Number(r?.[0] ?? 0)
      out[t] = { rows, chunks: [{ rows, sum: `d:${String(r?.[1] ?? '0')}` }] }
    }
    return out
  } finally {
    c.closeSync()
    instance.closeSync()
  }
}

/** Every difference between what the manifest recorded and what the restored file holds. */
export function compareSums(recorded: FileSums, restored: FileSums): SumsMismatch[] {
  const out: SumsMismatch[] = []
  for (const [t, want] of Object.entries(recorded)) {
    const got = restored[t]
    if (!got) {
      out.push({ table: t, what: 'missing from the restored file' })
      continue
    }
    if (got.rows !== want.rows) out.push({ table: t, what: `${got.rows} rows restored, ${want.rows} recorded` })
    const bad = want.chunks.map((c, i) => (got.chunks[i] && sameChecksum(c, got.chunks[i]!) ? -1 : i)).filter((i) => i >= 0)
    if (bad.length || got.chunks.length !== want.chunks.length) out.push({ table: t, what: `chunk checksums differ (chunks ${bad.slice(0, 5).join(', ') || 'count'} of ${want.chunks.length})` })
  }
  for (const t of Object.keys(restored)) if (!(t in recorded)) out.push({ table: t, what: 'in the restored file but not recorded' })
  return out
}
