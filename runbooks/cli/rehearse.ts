// `ocean-ops rehearse` (npm run rehearse): the whole move on the lab, from nothing.
import type { Command } from 'commander'
import { OpsError } from '@ocean-ops/common'
import { rehearse } from '../rehearse.ts'

function count(name: string, max: number) {
  return (v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1 || n > max) throw new OpsError('OPS_E_USAGE', `${name} ${v}: a whole number from 1 to ${max}`)
    return n
  }
}

export function registerRehearse(cli: Command): void {
  cli
    .command('rehearse')
    .description('The whole move on the lab from nothing: lab up, deploy, migrate, cutover under client writes, verify, remove MySQL, a rollback drill, and a report.')
    .option('--users <n>', 'users to seed (default 100000, or LAB_SEED_USERS)', count('--users', 10_000_000))
    .option('--telemetry <n>', 'telemetry rows to seed (default 5000000, or LAB_SEED_TELEMETRY)', count('--telemetry', 100_000_000))
    .option('--rate <n>', 'client writes per second during the move', count('--rate', 2000), 20)
    .option('--no-rollback-drill', 'skip the rollback drill at the end')
    .option('--watch <seconds>', 'how long remove-mysql watches for a respawn', count('--watch', 3600), 20)
    .option('--report <dir>', 'where the reports go', 'reports')
    .action(async (o: { users?: number; telemetry?: number; rate: number; rollbackDrill: boolean; watch: number; report: string }) => {
      if ((o.users === undefined) !== (o.telemetry === undefined)) throw new OpsError('OPS_E_USAGE', 'give both --users and --telemetry, or neither')
      const seed = o.users !== undefined && o.telemetry !== undefined ? { users: o.users, telemetryRows: o.telemetry } : undefined
      await rehearse({ seed, rate: o.rate, rollbackDrill: o.rollbackDrill, watchSeconds: o.watch, reportDir: o.report })
    })
}
