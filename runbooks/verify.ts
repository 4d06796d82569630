// `ocean-ops verify`: is the new stack healthy and fast enough? Named checks with expected vs
// actual, a report in Markdown, JSON and JUnit; it passes only if every check passed. Other
// runbooks (cutover, rehearse) call verify() directly.
import { closedPortChecks, containerChecks, httpChecks, loadCheck, resourceChecks, smokeCheck, type CheckResult, type LoadThresholds } from './lib/verify/checks.ts'
import { writeVerifyReport, type ReportFiles, type VerifyReport } from './lib/verify/report.ts'
import { connectHost } from './lib/host/connect.ts'
import { dockerOn } from './lib/host/docker-over-ssh.ts'
import { resolveSecret, type Inventory } from './lib/inventory.ts'
import type { Runbook } from './lib/runbook.ts'

export interface VerifyOptions {
  url?: string
  /** false: skip the load check (e.g. during a cutover soak, where the real traffic is the load). */
  load?: Partial<LoadThresholds> | false
  smokeEvents?: number
  /** false: write nothing into the service (no smoke; no load check either, it reads the smoke's user). */
  smoke?: boolean
  reportDir?: string
}

export const defaultLoad: LoadThresholds = { seconds: 5, connections: 10, p99Ms: 100, minRps: 200 }

export function clientUrl(inv: Inventory): string {
  return inv.ocean?.url ?? `http://${inv.floatingIp?.address ?? inv.newHost.address}:${inv.oceanPort}`
}

export async function verify(rb: Runbook, inv: Inventory, opts: VerifyOptions = {}): Promise<VerifyReport & { files: ReportFiles }> {
  const target = { url: opts.url ?? clientUrl(inv), apiKey: resolveSecret(inv.ocean?.apiKey, 'the Ocean API key') }
  const stack = inv.ocean?.stack ?? 'ocean'
  const startedAt = new Date().toISOString()
  const checks: CheckResult[] = []
  const record = (rs: CheckResult[]) => {
    for (const c of rs) rb.log(`      ${c.ok ? 'pass' : 'FAIL'} ${c.name}: ${c.actual}${c.ok ? '' : ` (expected ${c.expected})`}`)
    checks.push(...rs)
    return rs
  }

  await rb.step('http', { describe: `health and readiness of ${target.url}` }, async () => record(await httpChecks(target)).every((c) => c.ok))
  const smoke =
    opts.smoke === false
      ? undefined
      : await rb.step('smoke', { describe: 'user -> session -> validate -> revoke -> ingest -> analytics (writes a verify-<id> user and sensor)' }, async () => {
          const s = await smokeCheck(target, { events: opts.smokeEvents })
          record([s.result])
          return s.userId
        })
  if (opts.smoke === false) rb.log('  smoke and load checks skipped (--no-smoke): nothing is written into the service')
  const host = await connectHost(inv.newHost)
  const docker = await dockerOn(host)
  await rb.step('containers', { describe: `stack ${stack} healthy, no restarts` }, async () => record(await containerChecks(docker, stack)).every((c) => c.ok))
  await rb.step('exposure', { describe: 'database, Redis and Docker ports closed from outside' }, async () => record(await closedPortChecks(new URL(target.url).hostname)).every((c) => c.ok))
  if (opts.load !== false && opts.smoke !== false) {
    const th = { ...defaultLoad, ...(opts.load ?? {}) }
    await rb.step('load', { describe: `${th.seconds} s at ${th.connections} connections: p99 <= ${th.p99Ms} ms, >= ${th.minRps} req/s` }, async () => {
      if (smoke === undefined) return record([{ name: 'load', ok: false, expected: 'a smoke user to read', actual: 'smoke check failed', ms: 0 }])
      return record(await loadCheck(target, smoke, th)).every((c) => c.ok)
    })
  }
  await rb.step('resources', { describe: 'memory and CPU of each container against its limit' }, async () => record(await resourceChecks(docker, stack)).every((c) => c.ok))

  const report: VerifyReport = { target: target.url, startedAt, ok: checks.length > 0 && checks.every((c) => c.ok), checks }
  const files = writeVerifyReport(report, opts.reportDir ?? 'reports')
  rb.log(`  verification ${report.ok ? 'PASSED' : 'FAILED'}: ${checks.filter((c) => c.ok).length}/${checks.length} checks; report ${files.markdown}`)
  return { ...report, files }
}
