// The journal: a local SQLite file recording every run of every runbook — run id, runbook,
// each step's start, end and result, and the inputs minus secrets — plus the runbook lock.
// It is what `--resume` reads and what an operator reads after the fact.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { OpsError } from '@ocean-ops/common'
import { redactInputs } from './redact-inputs.ts'

export type StepResult = 'ok' | 'failed' | 'skipped' | 'planned'
export type RunResult = 'running' | 'ok' | 'failed' | 'planned'

export interface RunRow {
  run_id: string
  runbook: string
  started_at: string
  ended_at: string | null
  result: RunResult
  inputs: string
  error: string | null
}

export interface StepRow {
  run_id: string
  step: string
  started_at: string
  ended_at: string | null
  result: StepResult | 'running'
  destructive: number
  detail: string | null
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, runbook TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT,
  result TEXT NOT NULL, inputs TEXT NOT NULL, error TEXT, resumed_from TEXT
);
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL REFERENCES runs(run_id), step TEXT NOT NULL, started_at TEXT NOT NULL,
  ended_at TEXT, result TEXT NOT NULL, destructive INTEGER NOT NULL DEFAULT 0, detail TEXT,
  PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS locks (
  name TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL, hostname TEXT NOT NULL,
  acquired_at TEXT NOT NULL, expires_at INTEGER NOT NULL
);
`

const now = () => new Date().toISOString()

export class Journal {
  private constructor(readonly db: Database.Database, readonly file: string) {}

  static open(file: string): Journal {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    db.pragma('busy_timeout = 5000')
    db.pragma('foreign_keys = ON')
    db.exec(SCHEMA)
    try {
      fs.chmodSync(file, 0o600)
    } catch {
      // best effort: the journal holds no secrets, but it is nobody else's business either
    }
    return new Journal(db, file)
  }

  close(): void {
    this.db.close()
  }

  startRun(runbook: string, inputs: Record<string, unknown>, resumedFrom?: string): string {
    const runId = `${runbook}-${now().replace(/[-:.]/g, '').slice(0, 15)}-${Math.random().toString(36).slice(2, 8)}`
    this.db
      .prepare('INSERT INTO runs (run_id, runbook, started_at, result, inputs, resumed_from) VALUES (?, ?, ?, ?, ?, ?)')
      .run(runId, runbook, now(), 'running', JSON.stringify(redactInputs(inputs)), resumedFrom ?? null)
    return runId
  }

  endRun(runId: string, result: Exclude<RunResult, 'running'>, error?: string): void {
    this.db.prepare('UPDATE runs SET ended_at = ?, result = ?, error = ? WHERE run_id = ?').run(now(), result, error ?? null, runId)
  }

  /** The newest run of `runbook` that did not finish ok (interrupted or failed), if any. */
  lastUnfinishedRun(runbook: string): RunRow | undefined {
    const last = this.db.prepare("SELECT * FROM runs WHERE runbook = ? AND result != 'planned' ORDER BY started_at DESC, rowid DESC LIMIT 1").get(runbook) as RunRow | undefined
    return last && last.result !== 'ok' ? last : undefined
  }

  lastRun(runbook: string, result?: RunResult): RunRow | undefined {
    return (result
      ? this.db.prepare('SELECT * FROM runs WHERE runbook = ? AND result = ? ORDER BY started_at DESC, rowid DESC LIMIT 1').get(runbook, result)
      : this.db.prepare('SELECT * FROM runs WHERE runbook = ? ORDER BY started_at DESC, rowid DESC LIMIT 1').get(runbook)) as RunRow | undefined
  }

  stepStarted(runId: string, step: string, destructive: boolean): void {
    this.db
      .prepare('INSERT INTO steps (run_id, step, started_at, result, destructive) VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, step) DO UPDATE SET started_at = excluded.started_at, result = excluded.result, ended_at = NULL')
      .run(runId, step, now(), 'running', destructive ? 1 : 0)
  }

  stepEnded(runId: string, step: string, result: StepResult, detail?: unknown): void {
    const text = detail === undefined ? null : typeof detail === 'string' ? detail : JSON.stringify(redactInputs(detail as Record<string, unknown>))
    this.db.prepare('UPDATE steps SET ended_at = ?, result = ?, detail = ? WHERE run_id = ? AND step = ?').run(now(), result, text, runId, step)
  }

  steps(runId: string): StepRow[] {
    return this.db.prepare('SELECT * FROM steps WHERE run_id = ? ORDER BY started_at, rowid').all(runId) as StepRow[]
  }

  /** Steps that ended ok in `runId` and the runs it resumed, transitively. */
  completedSteps(runId: string): Set<string> {
    const done = new Set<string>()
    let id: string | null = runId
    while (id) {
      for (const s of this.steps(id)) if (s.result === 'ok') done.add(s.step)
      id = (this.db.prepare('SELECT resumed_from FROM runs WHERE run_id = ?').get(id) as { resumed_from: string | null } | undefined)?.resumed_from ?? null
    }
    return done
  }

  /** Take the named lock, or fail saying who holds it until when. A dead local holder is taken over. */
  acquireLock(name: string, owner: string, ttlMs: number): void {
    const take = this.db.transaction(() => {
      const held = this.db.prepare('SELECT * FROM locks WHERE name = ?').get(name) as
        | { owner: string; pid: number; hostname: string; acquired_at: string; expires_at: number }
        | undefined
      if (held && held.expires_at > Date.now() && !(held.hostname === os.hostname() && !pidAlive(held.pid)) && held.pid !== process.pid) {
        throw new OpsError(
          'OPS_E_LOCKED',
          `${name} is locked by ${held.owner} (pid ${held.pid} on ${held.hostname}, since ${held.acquired_at}, until ${new Date(held.expires_at).toISOString()}). Wait for it to finish; if that process is gone for good, run with --break-lock.`,
        )
      }
      this.db
        .prepare('INSERT INTO locks (name, owner, pid, hostname, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, hostname = excluded.hostname, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at')
        .run(name, owner, process.pid, os.hostname(), now(), Date.now() + ttlMs)
    })
    take.immediate()
  }

  refreshLock(name: string, ttlMs: number): void {
    this.db.prepare('UPDATE locks SET expires_at = ? WHERE name = ? AND pid = ? AND hostname = ?').run(Date.now() + ttlMs, name, process.pid, os.hostname())
  }

  releaseLock(name: string): void {
    this.db.prepare('DELETE FROM locks WHERE name = ? AND pid = ? AND hostname = ?').run(name, process.pid, os.hostname())
  }

  breakLock(name: string): void {
    this.db.prepare('DELETE FROM locks WHERE name = ?').run(name)
  }
}

/** Whether a process of this machine is alive (EPERM: alive, another user's). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
