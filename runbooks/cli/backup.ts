// `ocean-ops backup status|now|drill|restore|store`: see runbooks/backup.ts and README "Backups and restore".
import type { Command } from 'commander'
import { OpsError } from '@ocean-ops/common'
import { backupDrill, backupNow, backupRestore, backupStatus, backupStoreFile, type BackupStatus } from '../backup.ts'
import { runWithInventory, withCommonOptions, type CommonOptions } from './common-options.ts'

function statusText(s: BackupStatus): string {
  const line = (k: string, v: BackupStatus['newest']['sqlite']) => `  ${k.padEnd(8)} ${v ? `${v.time}  ${v.ageSeconds} s old (RPO ${v.rpoSeconds} s) ${v.ok ? 'ok' : 'LATE'}` : 'none yet'}`
  return [
    `backups in ${s.repository}: ${s.snapshots} snapshots`,
    line('users', s.newest.sqlite),
    line('telemetry', s.newest.duckdb),
    `  last drill ${s.lastDrill ? `${s.lastDrill.at} ${s.lastDrill.ok ? 'passed' : `FAILED: ${s.lastDrill.problems.join('; ')}`}` : 'never'}`,
    `  old server ${s.oldServer.length ? s.oldServer.map((x) => `${x.paths.join(', ')} (${x.time})`).join('; ') : 'nothing stored'}`,
    s.ok ? 'OK' : `PROBLEMS: ${s.problems.join('; ')}`,
  ].join('\n')
}

function parseAt(v: string): Date {
  if (v === 'now') return new Date()
  const d = new Date(v)
  if (Number.isNaN(d.getTime())) throw new OpsError('OPS_E_USAGE', `--at ${v}: an ISO time such as 2026-12-05T14:30:00Z, or "now"`)
  return d
}

export function registerBackup(cli: Command): void {
  const backup = cli.command('backup').description('Off-server backups of the new host\'s data (restic): status, take one now, drill a restore, restore a point in time.')
  withCommonOptions(backup.command('status').description('Age of the newest backup of users and telemetry against their RPO, the last drill, the old server\'s final dumps. Exit 1 when late or the drill failed.').option('--json', 'print JSON'))
    .action(async (o: CommonOptions & { json?: boolean }) => {
      const s = await runWithInventory('backup-status', o, {}, (rb, inv) => backupStatus(rb, inv))
      process.stdout.write(o.json ? `${JSON.stringify(s, null, 2)}\n` : `${statusText(s)}\n`)
      if (!s.ok) throw new OpsError('OPS_E_BACKUP_STALE', s.problems.join('; '))
    })
  withCommonOptions(backup.command('now').description('Take a backup round now (SQLite, DuckDB and the Redis AOF) and wait for it.').option('--sqlite-only', 'users only (the minute round)'))
    .action(async (o: CommonOptions & { sqliteOnly?: boolean }) => {
      const r = await runWithInventory('backup-now', o, {}, (rb, inv) => backupNow(rb, inv, { duckdb: !o.sqliteOnly }))
      if (r) process.stdout.write(`snapshot ${r.snapshotId.slice(0, 8)} [${r.tags.join(', ')}] in ${(r.ms.total / 1000).toFixed(1)} s, ${(r.bytesAdded / 1e6).toFixed(1)} MB added\n`)
    })
  withCommonOptions(backup.command('drill').description('Restore the newest backup into scratch on the new host, check integrity and checksums against the manifest, restic check; write a report.').option('--report-dir <dir>', 'where the report goes', 'reports'))
    .action(async (o: CommonOptions & { reportDir: string }) => {
      const r = await runWithInventory('backup-drill', o, {}, (rb, inv) => backupDrill(rb, inv, { reportDir: o.reportDir }))
      if (!r) return
      process.stdout.write(`drill ${r.ok ? 'PASSED' : 'FAILED'}${r.files ? `; report: ${r.files.md}` : ''}\n`)
      if (!r.ok) throw new OpsError('OPS_E_BACKUP_CORRUPT', `the drill failed: ${r.problems.join('; ')}`)
    })
  withCommonOptions(backup.command('restore').description('Bring back the state at a time: into an empty directory on the new host, or over the live data (`--to live`: stops the service, keeps the current files in pre-restore-<time>/, needs --yes).')
    .requiredOption('--at <time>', 'ISO time (or "now"): the newest backups at or before it')
    .requiredOption('--to <dir|live>', 'an empty directory on the new host, or "live"'))
    .action(async (o: CommonOptions & { at: string; to: string }) => {
      const at = parseAt(o.at)
      const r = await runWithInventory('backup-restore', o, { at: at.toISOString(), to: o.to }, (rb, inv) => backupRestore(rb, inv, { at, to: o.to }))
      if (!r) return
      process.stdout.write(`restored users as of ${r.sqlite.sqliteAt}${r.duckdb ? `, telemetry as of ${r.duckdb.redisAt ?? r.duckdb.duckdbAt}` : ''} into ${o.to}${r.keptIn?.length ? `; the files it replaced are in ${r.keptIn.join(', ')}` : ''}\n`)
    })
  withCommonOptions(backup.command('store').description('Store a local file (e.g. a final dump of the old server) in the backup repository, tagged old-server.').argument('<file>'))
    .action(async (file: string, o: CommonOptions) => {
      const r = await runWithInventory('backup-store', o, { file }, (rb, inv) => backupStoreFile(rb, inv, file))
      if (r) process.stdout.write(`stored ${file} as snapshot ${r.snapshot.slice(0, 8)} (${r.bytes} bytes)\n`)
    })
}
