// `ocean-ops remove-mysql [--yes] [--force] [--delete-data] [--watch S]`: a plan unless --yes.
import type { Command } from 'commander'
import { removeMysql } from '../remove-mysql.ts'
import { runWithInventory, withCommonOptions, type CommonOptions } from './common-options.ts'

export function registerRemoveMysql(cli: Command): void {
  withCommonOptions(
    cli
      .command('remove-mysql')
      .description('After a verified cutover: find and classify every MySQL on the old host, dump and verify, remove the rogue and its persistence, stop and purge the packaged server, block 3306, watch for a respawn. Shows the plan unless --yes.')
      .option('--force', 'proceed without a verified cutover in the journal')
      .option('--delete-data', 'delete the data directory after archiving it (default: keep it moved aside)')
      .option('--watch <seconds>', 'how long to watch for a respawn', Number, 60)
      .option('--report-dir <dir>', 'where the report goes', 'reports'),
  ).action(async (o: CommonOptions & { force?: boolean; deleteData?: boolean; watch: number; reportDir: string }) => {
    const plan = o.plan || !o.yes
    if (plan && !o.plan) process.stderr.write('remove-mysql: showing the plan; run again with --yes to act\n')
    await runWithInventory('remove-mysql', { ...o, plan }, { force: o.force, deleteData: o.deleteData }, (rb, inv) =>
      removeMysql(rb, inv, { force: o.force, deleteData: o.deleteData, watchSeconds: o.watch, reportDir: o.reportDir }))
  })
}
