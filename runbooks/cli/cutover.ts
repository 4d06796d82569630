// `ocean-ops cutover` and `ocean-ops rollback`: move the clients to the new system and back.
import type { Command } from 'commander'
import { cutover } from '../cutover.ts'
import { prepareCutover } from '../prepare.ts'
import { OpsError } from '@ocean-ops/common'
import { rollback } from '../rollback.ts'
import { runWithInventory, withCommonOptions, type CommonOptions } from './common-options.ts'

function seconds(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > 3600) throw new OpsError('OPS_E_USAGE', `--soak ${v}: whole seconds, 0..3600`)
  return n
}

export function registerCutover(cli: Command): void {
  withCommonOptions(
    cli
      .command('cutover')
      .description('Backup, pre-sync, freeze the old side, final delta + verify, move the floating IP, soak; rolls back by itself on failure.')
      .option('--soak <seconds>', 'watch the client address this long after the move', seconds, 10)
      .option('--report <dir>', 'where the report goes', 'reports')
      .option('--prepare', 'days before: put the floating IP on the old server, configure it there, check it answers (and DNS with --dns-name)')
      .option('--dns-name <name>', 'with --prepare: the name clients use; it must resolve to the floating IP'),
  ).action(async (o: CommonOptions & { soak: number; report: string; prepare?: boolean; dnsName?: string }) => {
    if (o.dnsName && !o.prepare) throw new OpsError('OPS_E_USAGE', '--dns-name goes with --prepare')
    if (o.prepare) {
      const p = await runWithInventory('cutover-prepare', o, { dnsName: o.dnsName }, (rb, inv) => prepareCutover(rb, inv, { dnsName: o.dnsName }))
      if (!o.plan) process.stdout.write(`prepared: ${p.floatingIp} on the old server (${p.configured}); ${p.answered}${p.warnings.length ? `\nWARNING: ${p.warnings.join('\nWARNING: ')}` : ''}\n`)
      return
    }
    const r = await runWithInventory('cutover', o, { soak: o.soak }, (rb, inv) => cutover(rb, inv, { soakSeconds: o.soak, reportDir: o.report }))
    if (!o.plan && r.writeFreezeMs !== null) process.stdout.write(`cut over; writes frozen for ${(r.writeFreezeMs / 1000).toFixed(2)} s\n`)
  })

  withCommonOptions(
    cli
      .command('rollback')
      .description('After a cutover: freeze the new side, sync its writes back into PostgreSQL, unfreeze the old side, move the floating IP back.')
      .option('--soak <seconds>', 'watch the client address this long after the move', seconds, 5)
      .option('--report <dir>', 'where the report goes', 'reports'),
  ).action(async (o: CommonOptions & { soak: number; report: string }) => {
    const r = await runWithInventory('rollback', o, { soak: o.soak }, (rb, inv) => rollback(rb, inv, { soakSeconds: o.soak, reportDir: o.report }))
    if (!o.plan && r.writeFreezeMs !== null) process.stdout.write(`rolled back; writes frozen for ${(r.writeFreezeMs / 1000).toFixed(2)} s\n`)
  })
}
