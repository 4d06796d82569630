// Options every runbook command shares, and the way a command runs a runbook frame.
import type { Command } from 'commander'
import { closeHosts } from '../lib/host/connect.ts'
import { loadInventory, type Inventory } from '../lib/inventory.ts'
import { runRunbook, type Runbook } from '../lib/runbook.ts'

export interface CommonOptions {
  inventory: string
  journal: string
  plan?: boolean
  yes?: boolean
  resume?: boolean
  breakLock?: boolean
}

export function withCommonOptions(cmd: Command): Command {
  return cmd
    .option('-i, --inventory <file>', 'inventory file (hosts, pinned keys, secret references)', process.env.OCEAN_OPS_INVENTORY ?? 'inventory.json')
    .option('--journal <file>', 'journal database (runs, steps, locks)', process.env.OCEAN_OPS_JOURNAL ?? '.ocean-ops/journal.db')
    .option('--plan', 'print what would be done; change nothing')
    .option('-y, --yes', 'proceed with destructive steps without asking')
    .option('--resume', 'continue the last interrupted run, skipping its finished steps')
    .option('--break-lock', 'take the runbook lock even if another run holds it (only if that run is gone)')
}

/** Load the inventory, run `body` in a journaled, locked runbook frame, close SSH connections. */
export async function runWithInventory<T>(name: string, o: CommonOptions, inputs: Record<string, unknown>, body: (rb: Runbook, inv: Inventory) => Promise<T>): Promise<T> {
  const inv = loadInventory(o.inventory)
  try {
    return await runRunbook(name, { journalPath: o.journal, plan: o.plan, yes: o.yes, resume: o.resume, breakLock: o.breakLock, inputs: { ...inputs, inventory: o.inventory } }, (rb) => body(rb, inv))
  } finally {
    await closeHosts()
  }
}
