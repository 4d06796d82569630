// The last run of each runbook, read from the journal without writing to it: opened read-only,
// never created (status is no run, takes no lock, leaves the journal as it found it).
import fs from 'node:fs'
import os from 'node:os'
import Database from 'better-sqlite3'
import { pidAlive } from '../journal/journal.ts'
import type { RunFacts } from './status-model.ts'

/** The newest run of each runbook (plans left out), newest first; undefined when there is no journal file. */
export function lastRuns(journalPath: string, now = Date.now()): RunFacts[] | undefined {
  if (!fs.existsSync(journalPath)) return undefined
  const db = new Database(journalPath, { readonly: true, fileMustExist: true })
  try {
    db.pragma('busy_timeout = 2000')
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name))
    if (!tables.has('runs')) return []
    const runs = db
      .prepare(
        `SELECT run_id, runbook, started_at, ended_at, result, error FROM runs r
         WHERE r.rowid = (SELECT r2.rowid FROM runs r2 WHERE r2.runbook = r.runbook AND r2.result != 'planned' ORDER BY r2.started_at DESC, r2.rowid DESC LIMIT 1)
         ORDER BY started_at DESC`,
      )
      .all() as RunFacts[]
    const locks = tables.has('locks') ? (db.prepare('SELECT name, pid, hostname, expires_at FROM locks').all() as Array<{ name: string; pid: number; hostname: string; expires_at: number }>) : []
    const held = new Set(locks.filter((l) => l.expires_at > now && !(l.hostname === os.hostname() && !pidAlive(l.pid))).map((l) => l.name))
    return runs.map((r) => ({ ...r, lockHeld: r.result === 'running' && held.has(r.runbook) }))
  } finally {
    db.close()
  }
}
