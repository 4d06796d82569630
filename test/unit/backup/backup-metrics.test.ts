// The backup agent's textfile for node_exporter: valid exposition format (promtool check metrics),
// the figures BackupStale compares, written whole and readable by the exporter's group only.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { backupMetricsText, backupRpos, writeBackupMetrics } from '../../../packages/migrate/src/backup/backup-metrics.ts'
import { requireTool } from '../../helpers/require-tool.ts'

const state = { lastSuccess: { users: 1796516277, telemetry: 1796515000 }, rpoSeconds: backupRpos(900), consecutiveFailures: 2 }

describe('backup metrics textfile', () => {
  it('passes promtool check metrics and carries both kinds with their RPOs', () => {
    const promtool = requireTool('promtool', 'apt-get install prometheus (bash scripts/setup test does)')
    const text = backupMetricsText(state)
    const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' })
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
    assert.match(text, /^ocean_backup_last_success_timestamp_seconds\{kind="users"\} 1796516277$/m)
    assert.match(text, /^ocean_backup_rpo_seconds\{kind="users"\} 60$/m)
    assert.match(text, /^ocean_backup_rpo_seconds\{kind="telemetry"\} 960$/m)
    assert.match(text, /^ocean_backup_consecutive_failures 2$/m)
  })
  it('is written whole, mode 0640, and not at all where there is no textfile directory', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-textfile-'))
    writeBackupMetrics(dir, state)
    const file = path.join(dir, 'ocean_backup.prom')
    assert.equal(fs.statSync(file).mode & 0o777, 0o640)
    assert.equal(fs.readFileSync(file, 'utf8'), backupMetricsText(state))
    assert.deepEqual(fs.readdirSync(dir), ['ocean_backup.prom'], 'no temp file left')
    writeBackupMetrics(path.join(dir, 'absent'), state)
    assert.equal(fs.existsSync(path.join(dir, 'absent')), false)
    fs.rmSync(dir, { recursive: true })
  })
})
