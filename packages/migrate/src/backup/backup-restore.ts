// Bringing a point in time back, and the drill that proves it can be done: which restic snapshots
// hold the newest copies at or before the time (users from the newest round, telemetry and Redis's
// AOF from the newest DuckDB round), restored into a directory laid out as the data volume is
// (ocean.db, telemetry.duckdb, redis/appendonlydir) with each round's manifest beside them.
import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { OpsError } from '@ocean-ops/common'
import { checkArgs, restoreArgs, snapshotsArgs } from './restic-commands.ts'
import { mustRestic, runRestic, type BackupSettings } from './backup-settings.ts'
import { MANIFEST, type Manifest } from './backup-round.ts'
import { compareSums, duckdbSums, sqliteSums, type SumsMismatch } from './snapshot-sums.ts'

export interface Snapshot {
  id: string
  short_id: string
  time: string
  tags?: string[]
  paths: string[]
}

export async function listSnapshots(s: BackupSettings): Promise<Snapshot[]> {
  const out = await mustRestic(s.target, snapshotsArgs(s.host), 'restic snapshots')
  const all = (JSON.parse(out || '[]') as Snapshot[] | null) ?? []
  return all.sort((a, b) => Date.parse(a.time) - Date.parse(b.time))
}

/** The snapshots a restore to `at` uses (pure): the newest round, and the newest DuckDB round. */
export function chooseSnapshots(all: Snapshot[], at: Date): { sqlite?: Snapshot; duckdb?: Snapshot } {
  const upTo = all.filter((x) => Date.parse(x.time) <= at.getTime())
  const newest = (tag: string) => upTo.filter((x) => x.tags?.includes(tag)).at(-1)
  return { sqlite: newest('sqlite'), duckdb: newest('duckdb') }
}

function findFile(dir: string, name: string): string | undefined {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.name === name) return p
    if (e.isDirectory()) {
      const f = findFile(p, name)
      if (f) return f
    }
  }
  return undefined
}

export interface Restored {
  dir: string
  sqlite: { snapshot: string; time: string; sqliteAt: string; manifest: Manifest }
  duckdb: { snapshot: string; time: string; redisAt: string | null; duckdbAt: string | null; manifest: Manifest } | null
  ms: number
}

async function restoreOne(s: BackupSettings, snap: Snapshot, scratch: string): Promise<Manifest> {
  fs.rmSync(scratch, { recursive: true, force: true })
  fs.mkdirSync(scratch, { recursive: true, mode: 0o700 })
  await mustRestic(s.target, restoreArgs(snap.id, scratch), `restic restore ${snap.short_id}`)
  const m = findFile(scratch, MANIFEST)
  if (!m) throw new OpsError('OPS_E_BACKUP', `snapshot ${snap.short_id} has no ${MANIFEST}: it was not made by the backup container`)
  return JSON.parse(fs.readFileSync(m, 'utf8')) as Manifest
}

function move(from: string | undefined, to: string, what: string): void {
  if (!from) throw new OpsError('OPS_E_BACKUP_CORRUPT', `the restored snapshot has no ${what}`)
  fs.rmSync(to, { recursive: true, force: true })
  fs.mkdirSync(path.dirname(to), { recursive: true })
  fs.renameSync(from, to)
}

/** Restores the state at `at` into `to` (which must be empty or absent). */
export async function restoreAt(s: BackupSettings, at: Date, to: string, log: (l: string) => void = () => {}): Promise<Restored> {
  const t0 = performance.now()
  if (fs.existsSync(to) && fs.readdirSync(to).length > 0) throw new OpsError('OPS_E_PRECONDITION', `${to} is not empty: restore into an empty directory`)
  const chosen = chooseSnapshots(await listSnapshots(s), at)
  if (!chosen.sqlite) throw new OpsError('OPS_E_BACKUP', `no backup at or before ${at.toISOString()} in ${s.target.repository}`)
  fs.mkdirSync(to, { recursive: true, mode: 0o700 })
  const scratch = path.join(to, '.restic-restore')
  log(`restoring users from ${chosen.sqlite.short_id} (${chosen.sqlite.time})`)
  const m1 = await restoreOne(s, chosen.sqlite, scratch)
  move(findFile(scratch, 'ocean.db'), path.join(to, 'ocean.db'), 'ocean.db')
  const journal = findFile(scratch, 'journal.db')
  if (journal) move(path.dirname(journal), path.join(to, 'migrate'), 'the migration journal')
  fs.writeFileSync(path.join(to, 'manifest-sqlite.json'), JSON.stringify(m1))
  let duck: Restored['duckdb'] = null
  if (chosen.duckdb) {
    log(`restoring telemetry and the Redis buffer from ${chosen.duckdb.short_id} (${chosen.duckdb.time})`)
    // The newest round was a DuckDB round: its files are restored already.
    const m2 = chosen.duckdb.id === chosen.sqlite.id ? m1 : await restoreOne(s, chosen.duckdb, scratch)
    move(findFile(scratch, 'telemetry.duckdb'), path.join(to, 'telemetry.duckdb'), 'telemetry.duckdb')
    const aof = findFile(scratch, 'appendonlydir')
    if (aof) move(aof, path.join(to, 'redis', 'appendonlydir'), 'appendonlydir')
    fs.writeFileSync(path.join(to, 'manifest-duckdb.json'), JSON.stringify(m2))
    duck = { snapshot: chosen.duckdb.id, time: chosen.duckdb.time, redisAt: m2.redisAt, duckdbAt: m2.duckdbAt, manifest: m2 }
  }
  fs.rmSync(scratch, { recursive: true, force: true })
  return { dir: to, sqlite: { snapshot: chosen.sqlite.id, time: chosen.sqlite.time, sqliteAt: m1.sqliteAt, manifest: m1 }, duckdb: duck, ms: performance.now() - t0 }
}

export interface DrillReport {
  ok: boolean
  at: string
  problems: string[]
  sqlite: { snapshot: string; sqliteAt: string; integrity: string; tables: number; rows: number; mismatches: SumsMismatch[] } | null
  duckdb: { snapshot: string; duckdbAt: string | null; tables: number; rows: number; mismatches: SumsMismatch[] } | null
  repositoryCheck: string
  restoreMs: number
  totalMs: number
}

export const LAST_DRILL = 'last-drill.json'

/** Restores the newest backup into scratch, opens and checks both databases against their manifests, checks the repository. */
export async function drill(s: BackupSettings, log: (l: string) => void = () => {}): Promise<DrillReport> {
  const t0 = performance.now()
  const report: DrillReport = { ok: false, at: new Date().toISOString(), problems: [], sqlite: null, duckdb: null, repositoryCheck: '', restoreMs: 0, totalMs: 0 }
  const scratch = path.join(s.cacheDir, `drill-${Date.now()}`)
  try {
    let r: Restored
    try {
      r = await restoreAt(s, new Date(), scratch, log)
    } catch (e) {
      report.problems.push(`restore failed: ${(e as Error).message}`)
      throw e
    }
    report.restoreMs = r.ms
    const db = new Database(path.join(scratch, 'ocean.db'), { readonly: true, fileMustExist: true })
    let integrity: string
    try {
      integrity = String(db.pragma('integrity_check', { simple: true }))
    } finally {
      db.close()
    }
    if (integrity !== 'ok') report.problems.push(`ocean.db integrity_check: ${integrity}`)
    const ss = sqliteSums(path.join(scratch, 'ocean.db'))
    const m1 = compareSums(r.sqlite.manifest.sums.sqlite, ss)
    report.sqlite = { snapshot: r.sqlite.snapshot, sqliteAt: r.sqlite.sqliteAt, integrity, tables: Object.keys(ss).length, rows: Object.values(ss).reduce((a, t) => a + t.rows, 0), mismatches: m1 }
    for (const m of m1) report.problems.push(`ocean.db ${m.table}: ${m.what}`)
    if (r.duckdb) {
      const ds = await duckdbSums(path.join(scratch, 'telemetry.duckdb'))
      const m2 = compareSums(r.duckdb.manifest.sums.duckdb ?? {}, ds)
      report.duckdb = { snapshot: r.duckdb.snapshot, duckdbAt: r.duckdb.duckdbAt, tables: Object.keys(ds).length, rows: Object.values(ds).reduce((a, t) => a + t.rows, 0), mismatches: m2 }
      for (const m of m2) report.problems.push(`telemetry.duckdb ${m.table}: ${m.what}`)
    } else report.problems.push('no DuckDB snapshot in the repository yet')
    const check = await runRestic(s.target, checkArgs('1/5'))
    report.repositoryCheck = check.code === 0 ? 'no errors' : check.stderr.trim().split('\n').slice(-2).join(' | ')
    if (check.code !== 0) report.problems.push(`restic check: ${report.repositoryCheck}`)
  } catch (e) {
    if (report.problems.length === 0) report.problems.push((e as Error).message)
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true })
    report.totalMs = performance.now() - t0
    report.ok = report.problems.length === 0
    fs.mkdirSync(s.cacheDir, { recursive: true })
    fs.writeFileSync(path.join(s.cacheDir, LAST_DRILL), JSON.stringify(report, null, 1), { mode: 0o600 })
  }
  return report
}

/**
 * Puts a restored directory in place of the live files (the caller has stopped the service): what
 * was there moves to pre-restore-<time>/ on the same volume, the way back. Ownership follows the
 * volumes' users (Ocean's data, Redis's AOF).
 */
export function placeRestored(from: string, dataDir: string, redisDir: string, owners: { data: number; redis: number }): { keptIn: string[] } {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const kept: string[] = []
  const aside = (dir: string, names: string[]) => {
    const to = path.join(dir, `pre-restore-${stamp}`)
    for (const n of names) {
      const p = path.join(dir, n)
      if (!fs.existsSync(p)) continue
      fs.mkdirSync(to, { recursive: true, mode: 0o700 })
      fs.renameSync(p, path.join(to, n))
      if (!kept.includes(to)) kept.push(to)
    }
  }
  aside(dataDir, ['ocean.db', 'ocean.db-wal', 'ocean.db-shm', 'telemetry.duckdb', 'telemetry.duckdb.wal'])
  fs.cpSync(path.join(from, 'ocean.db'), path.join(dataDir, 'ocean.db'))
  fs.chownSync(path.join(dataDir, 'ocean.db'), owners.data, owners.data)
  if (fs.existsSync(path.join(from, 'telemetry.duckdb'))) {
    fs.cpSync(path.join(from, 'telemetry.duckdb'), path.join(dataDir, 'telemetry.duckdb'))
    fs.chownSync(path.join(dataDir, 'telemetry.duckdb'), owners.data, owners.data)
  }
  if (fs.existsSync(path.join(from, 'migrate'))) {
    aside(dataDir, ['.migrate'])
    fs.cpSync(path.join(from, 'migrate'), path.join(dataDir, '.migrate'), { recursive: true })
    for (const f of ['', ...fs.readdirSync(path.join(dataDir, '.migrate'))]) fs.chownSync(path.join(dataDir, '.migrate', f), owners.data, owners.data)
  }
  if (fs.existsSync(path.join(from, 'redis', 'appendonlydir'))) {
    aside(redisDir, ['appendonlydir'])
    fs.cpSync(path.join(from, 'redis', 'appendonlydir'), path.join(redisDir, 'appendonlydir'), { recursive: true })
    for (const f of ['', ...fs.readdirSync(path.join(redisDir, 'appendonlydir'))]) fs.chownSync(path.join(redisDir, 'appendonlydir', f), owners.redis, owners.redis)
  }
  return { keptIn: kept }
}
