// The backup agent's word to Prometheus: node_exporter's textfile collector reads
// <dir>/ocean_backup.prom (the monitoring stack mounts the same volume). The alert BackupStale
// compares the newest backup's time with its RPO, both from here; `backup status` remains the
// repository's own account.
import fs from 'node:fs'
import path from 'node:path'

export interface BackupMetricsState {
  /** Unix seconds of the newest backup of each kind the agent knows of (a round it made, or the repository's newest at start). */
  lastSuccess: { users: number; telemetry: number }
  rpoSeconds: { users: number; telemetry: number }
  consecutiveFailures: number
}

/** The RPOs the agent reports: users within a minute, telemetry within its DuckDB interval plus a minute (as `backup status`). */
export function backupRpos(duckdbSeconds: number): BackupMetricsState['rpoSeconds'] {
  return { users: 60, telemetry: duckdbSeconds + 60 }
}

/** The textfile's text (pure). */
export function backupMetricsText(st: BackupMetricsState): string {
  const kinds = ['users', 'telemetry'] as const
  return [
    '# HELP ocean_backup_last_success_timestamp_seconds Time of the newest off-server backup of each kind.',
    '# TYPE ocean_backup_last_success_timestamp_seconds gauge',
    ...kinds.map((k) => `ocean_backup_last_success_timestamp_seconds{kind="${k}"} ${st.lastSuccess[k]}`),
    '# HELP ocean_backup_rpo_seconds The most a backup of each kind may lag (its recovery point objective).',
    '# TYPE ocean_backup_rpo_seconds gauge',
    ...kinds.map((k) => `ocean_backup_rpo_seconds{kind="${k}"} ${st.rpoSeconds[k]}`),
    '# HELP ocean_backup_consecutive_failures Backup rounds failed in a row.',
    '# TYPE ocean_backup_consecutive_failures gauge',
    `ocean_backup_consecutive_failures ${st.consecutiveFailures}`,
    '',
  ].join('\n')
}

/** Written whole (temp file + rename) and readable by the exporter's group; silently nothing when there is no textfile directory (monitoring off). */
export function writeBackupMetrics(dir: string | undefined, st: BackupMetricsState): void {
  if (!dir || !fs.existsSync(dir)) return
  const file = path.join(dir, 'ocean_backup.prom')
  try {
    fs.writeFileSync(`${file}.tmp`, backupMetricsText(st), { mode: 0o640 })
    fs.chmodSync(`${file}.tmp`, 0o640)
    fs.renameSync(`${file}.tmp`, file)
  } catch {
    // Metrics are best effort: a read-only or foreign directory must not stop backups.
  }
}
