// `ocean-ops status [--json]`: one screen of where everything stands; exit 1 when something is wrong.
// Read-only: it runs no runbook frame (no lock, no run in the journal), so it takes only the
// inventory and journal options, not --plan/--yes/--resume/--break-lock.
import type { Command } from 'commander'
import { OpsError } from '@ocean-ops/common'
import { loadInventory } from '../lib/inventory.ts'
import { statusJson, statusScreen } from '../lib/status/status-report.ts'
import { DEFAULT_BACKUP_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, gatherStatus, statusUrl } from '../status.ts'

interface StatusCliOptions {
  inventory: string
  journal: string
  json?: boolean
  timeout: number
  backupTimeout: number
}

function seconds(v: string): number {
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new OpsError('OPS_E_USAGE', `${v}: give a number of seconds above 0`)
  return n
}

export function registerStatus(cli: Command): void {
  cli
    .command('status')
    .description('One screen: where the floating IP points, each host reachable, the deployed and previous release, the last run of each runbook, service health and buffer backlog, firing alerts, backup age. Read-only. Exit 1 when something is wrong (OPS_E_STATUS).')
    .option('-i, --inventory <file>', 'inventory file (hosts, pinned keys, secret references)', process.env.OCEAN_OPS_INVENTORY ?? 'inventory.json')
    .option('--journal <file>', 'journal database (read, never written)', process.env.OCEAN_OPS_JOURNAL ?? '.ocean-ops/journal.db')
    .option('--json', 'print the status as JSON (no secrets in it)')
    .option('--timeout <seconds>', 'the bound on each item: an unreachable host costs this much', seconds, DEFAULT_TIMEOUT_MS / 1000)
    .option('--backup-timeout <seconds>', 'the bound on reading the backups (restic reads the repository)', seconds, DEFAULT_BACKUP_TIMEOUT_MS / 1000)
    .action(async (o: StatusCliOptions) => {
      const inv = loadInventory(o.inventory)
      const m = await gatherStatus(inv, { journalPath: o.journal, timeoutMs: o.timeout * 1000, backupTimeoutMs: o.backupTimeout * 1000 })
      process.stdout.write(o.json ? statusJson(m) : `${statusScreen(m, { journalPath: o.journal, url: statusUrl(inv) })}\n`)
      if (m.verdict === 'fail') throw new OpsError('OPS_E_STATUS', `${m.problems.length} problem(s): ${m.problems.join('; ')}`)
    })
}
