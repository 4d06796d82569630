// One backup round, as the backup container runs it every sqliteSeconds (and with DuckDB every
// duckdbSeconds): Redis's AOF copied first, then consistent copies of the databases (the service's
// snapshot route), their checksums into a manifest, and one restic snapshot of all of it.
// Order matters: an event acknowledged before the AOF copy is either in that copy (still buffered)
// or already stored in DuckDB, whose copy is taken after; so a round's telemetry restore point is
// its AOF time. Users' restore point is the SQLite copy's time.
import fs from 'node:fs'
import path from 'node:path'
import { OpsError } from '@ocean-ops/common'
import { backupArgs, forgetArgs } from './restic-commands.ts'
import { mustRestic, type BackupSettings } from './backup-settings.ts'
import { duckdbSums, sqliteSums, type FileSums } from './snapshot-sums.ts'

export const MANIFEST = 'manifest.json'

export interface Manifest {
  version: 1
  host: string
  /** Users: every write acknowledged before this is in ocean.db. */
  sqliteAt: string
  /** Telemetry (DuckDB rounds): every event acknowledged before this is in telemetry.duckdb or the AOF copy. */
  redisAt: string | null
  duckdbAt: string | null
  sums: { sqlite: FileSums; duckdb?: FileSums }
}

export interface RoundResult {
  ok: true
  snapshotId: string
  tags: string[]
  manifest: Manifest
  bytesAdded: number
  ms: { redis: number; snapshot: number; sums: number; restic: number; total: number }
}

export const stageDir = (s: BackupSettings) => path.join(s.cacheDir, 'stage')

/** Copies the AOF directory whole: the copy is retried if Redis rewrote its manifest meanwhile. */
export function copyAof(redisDir: string, to: string): boolean {
  const from = path.join(redisDir, 'appendonlydir')
  fs.rmSync(to, { recursive: true, force: true })
  if (!fs.existsSync(from)) return false
  for (let attempt = 0; attempt < 5; attempt++) {
    const manifest = fs.readdirSync(from).find((f) => f.endsWith('.manifest'))
    const before = manifest ? fs.readFileSync(path.join(from, manifest), 'utf8') : ''
    fs.rmSync(to, { recursive: true, force: true })
    fs.cpSync(from, to, { recursive: true })
    const after = manifest && fs.existsSync(path.join(from, manifest)) ? fs.readFileSync(path.join(from, manifest), 'utf8') : ''
    if (before === after) return true
  }
  throw new OpsError('OPS_E_BACKUP', `Redis rewrote its AOF five times while it was copied from ${from}; the next round tries again`)
}

async function snapshotRoute(s: BackupSettings, duckdb: boolean): Promise<{ sqlite: { file: string; takenAt: string }; duckdb?: { file: string; takenAt: string } }> {
  const res = await fetch(`${s.apiUrl}/api/ocean/admin/snapshot`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sqlite: true, duckdb }),
    signal: AbortSignal.timeout(300_000),
  }).catch((e: Error) => {
    throw new OpsError('OPS_E_BACKUP', `the Ocean API at ${s.apiUrl} did not answer the snapshot request (${e.message}): is the service running?`)
  })
  if (!res.ok) throw new OpsError('OPS_E_BACKUP', `the Ocean API answered ${res.status} to the snapshot request: ${(await res.text()).slice(0, 300)}`)
  return (await res.json()) as never
}

/** The snapshot files as the backup container sees them (the route answers paths relative to the data volume). */
function local(s: BackupSettings, file: string): string {
  if (path.isAbsolute(file) || file.split(path.sep).includes('..')) throw new OpsError('OPS_E_BACKUP', `the snapshot route answered an unexpected path ${file}`)
  return path.join(s.dataDir, file)
}

export async function backupRound(s: BackupSettings, o: { duckdb: boolean; log?: (l: string) => void }): Promise<RoundResult> {
  const t0 = performance.now()
  const stage = stageDir(s)
  fs.mkdirSync(stage, { recursive: true, mode: 0o700 })
  const redisAt = new Date().toISOString()
  const aof = path.join(stage, 'redis', 'appendonlydir')
  const hadAof = copyAof(s.redisDir, aof)
  // The migration engine's journal (the cutover mark a rollback needs): written only while a
  // migration runs, so a copy of its files between runs is the file.
  const journal = path.join(stage, 'migrate')
  fs.rmSync(journal, { recursive: true, force: true })
  const live = path.join(s.dataDir, '.migrate')
  const journalFiles = fs.existsSync(live) ? fs.readdirSync(live).filter((f) => /^journal\.db(-wal|-shm)?$/.test(f)) : []
  if (journalFiles.length) {
    fs.mkdirSync(journal, { recursive: true, mode: 0o700 })
    for (const f of journalFiles) fs.copyFileSync(path.join(live, f), path.join(journal, f))
  }
  const t1 = performance.now()
  const snap = await snapshotRoute(s, o.duckdb)
  const t2 = performance.now()
  const sqliteFile = local(s, snap.sqlite.file)
  const duckFile = snap.duckdb ? local(s, snap.duckdb.file) : undefined
  const manifest: Manifest = {
    version: 1,
    host: s.host,
    sqliteAt: snap.sqlite.takenAt,
    redisAt: o.duckdb ? redisAt : null,
    duckdbAt: snap.duckdb?.takenAt ?? null,
    sums: { sqlite: sqliteSums(sqliteFile), ...(duckFile ? { duckdb: await duckdbSums(duckFile) } : {}) },
  }
  fs.writeFileSync(path.join(stage, MANIFEST), JSON.stringify(manifest, null, 1), { mode: 0o600 })
  const t3 = performance.now()
  const tags = ['ocean', 'sqlite', ...(o.duckdb ? ['duckdb', 'redis'] : [])]
  const paths = [path.dirname(sqliteFile), path.join(stage, MANIFEST), ...(journalFiles.length ? [journal] : []), ...(duckFile ? [path.dirname(duckFile)] : []), ...(o.duckdb && hadAof ? [path.join(stage, 'redis')] : [])]
  const out = await mustRestic(s.target, backupArgs(s.host, tags, paths), 'restic backup')
  const summary = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { message_type?: string; snapshot_id?: string; data_added?: number }).find((m) => m.message_type === 'summary')
  if (!summary?.snapshot_id) throw new OpsError('OPS_E_BACKUP', `restic backup printed no summary: ${out.slice(-300)}`)
  const t4 = performance.now()
  return { ok: true, snapshotId: summary.snapshot_id, tags, manifest, bytesAdded: summary.data_added ?? 0, ms: { redis: t1 - t0, snapshot: t2 - t1, sums: t3 - t2, restic: t4 - t3, total: t4 - t0 } }
}

export async function applyRetention(s: BackupSettings): Promise<void> {
  await mustRestic(s.target, forgetArgs(s.host, s.retention), 'restic forget (retention)')
}
