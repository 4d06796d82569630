// Shared set-up of the migration integration tests: a scratch directory with the target files and
// the journal, and read-only looks into the SQLite and DuckDB files once the engine closed them.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { DuckDBInstance } from '@duckdb/node-api'
import type { MigrateOptions } from '../../../packages/migrate/src/run-migration.ts'

export interface Scratch {
  dir: string
  sqlite: string
  duckdb: string
  journal: string
  reports: string
  options(source: string, extra?: Partial<MigrateOptions>): MigrateOptions
  remove(): void
}

export function scratch(prefix: string): Scratch {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`))
  const s: Scratch = {
    dir,
    sqlite: path.join(dir, 'data', 'ocean.db'),
    duckdb: path.join(dir, 'data', 'telemetry.duckdb'),
    journal: path.join(dir, 'journal.db'),
    reports: path.join(dir, 'reports'),
    options: (source, extra = {}) => ({
      source,
      sqlite: s.sqlite,
      duckdb: s.duckdb,
      journal: s.journal,
      reportDir: s.reports,
      mode: 'copy',
      log: () => undefined,
      ...extra,
    }),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  }
  return s
}

/** Rows of a query on the SQLite file, integers as BigInt (so nothing is rounded on the way). */
export function sqliteAll(file: string, sql: string, ...params: unknown[]): unknown[][] {
  const db = new Database(file, { readonly: true })
  try {
    return db.prepare(sql).raw(true).safeIntegers(true).all(...params) as unknown[][]
  } finally {
    db.close()
  }
}

/** Rows of a query on the DuckDB file, every value as DuckDB's text (or null). */
export async function duckAll(file: string, sql: string): Promise<(string | null)[][]> {
  const inst = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' })
  const c = await inst.connect()
  try {
    const r = await c.runAndReadAll(sql)
    return r.getRows().map((row) => row.map((v) => (v === null ? null : String(v))))
  } finally {
    c.closeSync()
    inst.closeSync()
  }
}
