// The backup tool in the Ocean image (dist/backup.mjs): `agent` is the backup container's loop;
// the other commands are what `ocean-ops backup` runs in one-off containers beside it. Each ends
// with one line `BACKUP-RESULT <json>` (ok or the error's code and message) that the runbook reads.
import fs from 'node:fs'
import path from 'node:path'
import { isOpsError, OpsError } from '@ocean-ops/common'
import { stdinBackupArgs } from './restic-commands.ts'
import { backupRpos, writeBackupMetrics, type BackupMetricsState } from './backup-metrics.ts'
import { ensureRepository, mustRestic, readSettings, type BackupSettings } from './backup-settings.ts'
import { applyRetention, backupRound, type RoundResult } from './backup-round.ts'
import { drill, LAST_DRILL, listSnapshots, placeRestored, restoreAt } from './backup-restore.ts'

export const BACKUP_RESULT_PREFIX = 'BACKUP-RESULT '
export const AGENT_STATUS = 'agent-status.json'
const OCEAN_UID = 10001
const REDIS_UID = 10002

const log = (l: string) => process.stderr.write(`${new Date().toISOString()} ${l}\n`)

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}

/** One round at a time in this cache (the agent and a `backup now` may meet): a lock file with the holder's pid. */
async function withRoundLock<T>(s: BackupSettings, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(s.cacheDir, { recursive: true })
  const lock = path.join(s.cacheDir, 'round.lock')
  const deadline = Date.now() + 300_000
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' })
      break
    } catch {
      const pid = Number(fs.readFileSync(lock, 'utf8') || 0)
      let alive = false
      try {
        process.kill(pid, 0)
        alive = pid > 0
      } catch {
        alive = false
      }
      if (!alive) fs.rmSync(lock, { force: true })
      else if (Date.now() > deadline) throw new OpsError('OPS_E_LOCKED', `another backup round (pid ${pid}) has held ${lock} for 5 minutes`)
      else await new Promise((r) => setTimeout(r, 200))
    }
  }
  try {
    return await fn()
  } finally {
    fs.rmSync(lock, { force: true })
  }
}

function writeAgentStatus(s: BackupSettings, st: Record<string, unknown>): void {
  const file = path.join(s.cacheDir, AGENT_STATUS)
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(st), { mode: 0o600 })
  fs.renameSync(`${file}.tmp`, file)
}

async function agent(s: BackupSettings): Promise<never> {
  log(`backup agent: ${s.target.repository} (host ${s.host}), SQLite every ${s.sqliteSeconds} s, DuckDB every ${s.duckdbSeconds} s, keep ${s.retention.hourly}h/${s.retention.daily}d/${s.retention.monthly}m`)
  const st: Record<string, unknown> = { startedAt: new Date().toISOString(), lastRound: null, lastError: null, failures: 0 }
  // Until a round succeeds, the agent's start stands for the newest backup: BackupStale fires when none comes.
  const startedS = Math.floor(Date.now() / 1000)
  const metrics: BackupMetricsState = { lastSuccess: { users: startedS, telemetry: startedS }, rpoSeconds: backupRpos(s.duckdbSeconds), consecutiveFailures: 0 }
  const textfileDir = process.env.OCEAN_BACKUP_TEXTFILE_DIR ?? '/textfile'
  for (;;) {
    try {
      await ensureRepository(s.target)
      break
    } catch (e) {
      st.lastError = { at: new Date().toISOString(), message: (e as Error).message }
      metrics.consecutiveFailures++
      writeBackupMetrics(textfileDir, metrics)
      writeAgentStatus(s, st)
      log(`repository not ready: ${(e as Error).message}; trying again in 30 s`)
      await new Promise((r) => setTimeout(r, 30_000))
    }
  }
  const known = await listSnapshots(s).catch(() => [] as Awaited<ReturnType<typeof listSnapshots>>)
  for (const [kind, tag] of [['users', 'sqlite'], ['telemetry', 'duckdb']] as const) {
    const newest = known.filter((x) => x.tags?.includes(tag)).at(-1)
    if (newest) metrics.lastSuccess[kind] = Math.floor(Date.parse(newest.time) / 1000)
  }
  writeBackupMetrics(textfileDir, metrics)
  let nextSqlite = 0
  let nextDuck = 0
  let nextForget = Date.now() + 3600_000
  for (;;) {
    const now = Date.now()
    if (now >= nextSqlite) {
      const duckdb = now >= nextDuck
      nextSqlite = now + s.sqliteSeconds * 1000
      if (duckdb) nextDuck = now + s.duckdbSeconds * 1000
      try {
        const r: RoundResult = await withRoundLock(s, () => backupRound(s, { duckdb }))
        st.lastRound = { at: new Date().toISOString(), snapshot: r.snapshotId, tags: r.tags, ms: Math.round(r.ms.total), bytesAdded: r.bytesAdded }
        st.failures = 0
        metrics.consecutiveFailures = 0
        metrics.lastSuccess.users = Math.floor(Date.parse(r.manifest.sqliteAt) / 1000)
        if (r.manifest.duckdbAt) metrics.lastSuccess.telemetry = Math.floor(Date.parse(r.manifest.duckdbAt) / 1000)
        log(`snapshot ${r.snapshotId.slice(0, 8)} [${r.tags.join(',')}] in ${(r.ms.total / 1000).toFixed(1)} s, ${(r.bytesAdded / 1e6).toFixed(1)} MB added`)
      } catch (e) {
        st.lastError = { at: new Date().toISOString(), message: (e as Error).message }
        st.failures = Number(st.failures) + 1
        if (duckdb) nextDuck = 0 // the DuckDB copy is due again next round
        metrics.consecutiveFailures++
        log(`round failed: ${(e as Error).message}`)
      }
      writeBackupMetrics(textfileDir, metrics)
      writeAgentStatus(s, st)
    }
    if (now >= nextForget) {
      nextForget = now + 3600_000
      await withRoundLock(s, () => applyRetention(s)).catch((e: Error) => log(`retention failed: ${e.message}`))
    }
    await new Promise((r) => setTimeout(r, 1000))
  }
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    return null
  }
}

export async function runBackupCommand(argv: string[]): Promise<unknown> {
  const [cmd] = argv
  const s = readSettings()
  switch (cmd) {
    case 'agent':
      return agent(s)
    case 'init':
      return { repository: await ensureRepository(s.target) }
    case 'round': {
      await ensureRepository(s.target)
      return withRoundLock(s, () => backupRound(s, { duckdb: argv.includes('--duckdb'), log }))
    }
    case 'status':
      return { snapshots: await listSnapshots(s), agent: await readJson(path.join(s.cacheDir, AGENT_STATUS)), lastDrill: await readJson(path.join(s.cacheDir, LAST_DRILL)), sqliteSeconds: s.sqliteSeconds, duckdbSeconds: s.duckdbSeconds }
    case 'forget':
      return withRoundLock(s, async () => {
        await applyRetention(s)
        return { snapshots: (await listSnapshots(s)).length }
      })
    case 'drill':
      return drill(s, log)
    case 'restore': {
      const at = new Date(arg(argv, '--at') ?? 'now')
      const to = arg(argv, '--to')
      if (Number.isNaN(at.getTime()) && arg(argv, '--at') !== 'now') throw new OpsError('OPS_E_USAGE', `--at ${arg(argv, '--at')}: give an ISO time`)
      if (!to) throw new OpsError('OPS_E_USAGE', 'restore needs --to DIR')
      const when = Number.isNaN(at.getTime()) ? new Date() : at
      if (!argv.includes('--live')) return restoreAt(s, when, to, log)
      // Live: restored beside the volumes first (nothing is moved until the whole restore is here).
      const staging = path.join(s.dataDir, `.restore-${Date.now()}`)
      const r = await restoreAt(s, when, staging, log)
      const placed = placeRestored(staging, s.dataDir, s.redisDir, { data: OCEAN_UID, redis: REDIS_UID })
      fs.rmSync(staging, { recursive: true, force: true })
      return { ...r, dir: s.dataDir, keptIn: placed.keptIn }
    }
    case 'store': {
      const name = arg(argv, '--name')
      if (!name || !/^[A-Za-z0-9._-]+$/.test(name)) throw new OpsError('OPS_E_USAGE', 'store needs --name FILE (letters, digits, . _ -)')
      await ensureRepository(s.target)
      const out = await mustRestic(s.target, stdinBackupArgs(s.host, ['old-server', ...(arg(argv, '--tag') ? [arg(argv, '--tag')!] : [])], name), `storing ${name}`, process.stdin)
      const summary = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { message_type?: string; snapshot_id?: string; total_bytes_processed?: number }).find((m) => m.message_type === 'summary')
      return { snapshot: summary?.snapshot_id, bytes: summary?.total_bytes_processed }
    }
    default:
      throw new OpsError('OPS_E_USAGE', `backup tool: unknown command ${cmd ?? '(none)'}; one of agent, init, round, status, forget, drill, restore, store`)
  }
}

export async function backupMain(argv: string[]): Promise<number> {
  try {
    const result = await runBackupCommand(argv)
    process.stdout.write(`${BACKUP_RESULT_PREFIX}${JSON.stringify({ ok: true, result })}\n`)
    return 0
  } catch (e) {
    const code = isOpsError(e) ? e.code : 'OPS_E_BACKUP'
    process.stdout.write(`${BACKUP_RESULT_PREFIX}${JSON.stringify({ ok: false, code, message: (e as Error).message })}\n`)
    return 1
  }
}
