// `ocean-ops deploy [--image REF] [--rollback]`
import type { Command } from 'commander'
import { deploy, rollbackRelease } from '../deploy.ts'
import { runWithInventory, withCommonOptions, type CommonOptions } from './common-options.ts'

export function registerDeploy(cli: Command): void {
  withCommonOptions(
    cli
      .command('deploy')
      .description('Deploy the Ocean stack (Redis + API) to the new host over SSH, health-gated; --rollback restores the previous release.')
      .option('--image <ref>', 'deploy this local image instead of building services/ocean')
      .option('--rollback', 'make the previous release current again'),
  ).action(async (o: CommonOptions & { image?: string; rollback?: boolean }) => {
    if (o.rollback) {
      const image = await runWithInventory('deploy-rollback', o, {}, (rb, inv) => rollbackRelease(rb, inv))
      process.stdout.write(`rolled back to ${image}\n`)
      return
    }
    const r = await runWithInventory('deploy', o, { image: o.image }, (rb, inv) => deploy(rb, inv, { image: o.image }))
    if (!o.plan) process.stdout.write(`${r.changed ? 'deployed' : 'unchanged'}: ${r.release}\n`)
  })
}
