// `ocean-ops verify [--url URL] [--no-load] [--no-smoke] [--report-dir DIR]`: exit 0 only if every check passed.
import type { Command } from 'commander'
import { OpsError } from '@ocean-ops/common'
import { verify } from '../verify.ts'
import { runWithInventory, withCommonOptions, type CommonOptions } from './common-options.ts'

export function registerVerify(cli: Command): void {
  withCommonOptions(
    cli
      .command('verify')
      .description('Check the deployed stack: health, an end-to-end smoke, containers, closed ports, load thresholds. Writes Markdown, JSON and JUnit.')
      .option('--url <url>', 'the URL clients use (default: floating IP or new host, Ocean port)')
      .option('--no-load', 'skip the short load test')
      .option('--no-smoke', 'write nothing into the service: skip the end-to-end smoke (a verify-<id> user and sensor) and the load test, which reads its user')
      .option('--p99 <ms>', 'load threshold: p99 latency in ms', Number)
      .option('--min-rps <n>', 'load threshold: requests per second', Number)
      .option('--report-dir <dir>', 'where the reports go', 'reports'),
  ).action(async (o: CommonOptions & { url?: string; load: boolean; smoke: boolean; p99?: number; minRps?: number; reportDir: string }) => {
    const load = o.load ? { ...(o.p99 ? { p99Ms: o.p99 } : {}), ...(o.minRps ? { minRps: o.minRps } : {}) } : false
    const r = await runWithInventory('verify', o, { url: o.url, load, smoke: o.smoke }, (rb, inv) => verify(rb, inv, { url: o.url, load, smoke: o.smoke, reportDir: o.reportDir }))
    process.stdout.write(`${r.files.markdown}\n`)
    if (!r.ok) throw new OpsError('OPS_E_VERIFY', `${r.checks.filter((c) => !c.ok).map((c) => c.name).join('; ')} failed: see ${r.files.markdown}`)
  })
}
