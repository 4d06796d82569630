// `ocean-ops rollback`: the cutover's path in reverse, after a completed cutover. The new side is
// frozen, the writes it took since the cutover mark go back into PostgreSQL, the old side takes
// writes again, and the floating IP moves back. Read top to bottom, these are its steps.
import fs from 'node:fs'
import path from 'node:path'
import { advanceSequences, freezeNew, moveFloatingIp, openSides, soak, startOldApp, syncOnNewHost, unfreezeOldDb } from './lib/cutover/sides.ts'
import type { Inventory } from './lib/inventory.ts'
import { reverseTable } from './lib/migrate/report.ts'
import type { ReverseResult } from './lib/migrate/reverse.ts'
import { OpsError } from './lib/ops-error.ts'
import { stepTimingsTable, type Runbook, type StepTiming } from './lib/runbook.ts'

export interface RollbackReport {
  ok: boolean
  startedAt: string
  /** From the new side's freeze until the floating IP answers on the old side. */
  writeFreezeMs: number | null
  reverse: ReverseResult[]
  steps: StepTiming[]
  alreadyDone?: boolean
}

export async function rollback(rb: Runbook, inv: Inventory, opts: { soakSeconds?: number; reportDir?: string } = {}): Promise<RollbackReport> {
  const startedAt = new Date().toISOString()
  const report: RollbackReport = { ok: false, startedAt, writeFreezeMs: null, reverse: [], steps: [] }
  const s = (await rb.step('connect', { describe: 'both hosts (pinned keys), the Hetzner API' }, () => openSides(inv)))!

  const where = await rb.step('preflight', { describe: 'where the floating IP is' }, async () => {
    const fip = await s.hetzner.getFloatingIp(s.floatingIpId)
    if (fip.server === s.oldServerId) return 'old'
    if (fip.server !== s.newServerId) throw new OpsError('OPS_E_PRECONDITION', `the floating IP is on server ${fip.server}, neither old (${s.oldServerId}) nor new (${s.newServerId})`)
    return 'new'
  })
  if (where === 'old' && !rb.planning) {
    rb.log('  the floating IP is on the old server already; making sure the old side takes writes')
    await rb.step('unfreeze old', { mutates: true, describe: 'PostgreSQL read-write; the old app started' }, async () => {
      await unfreezeOldDb(s)
      await startOldApp(s)
    })
    return write(rb, Object.assign(report, { ok: true, alreadyDone: true }), opts.reportDir)
  }

  let frozenAt = 0
  await rb.step('freeze new', { destructive: 'stop the new API (clients retry until the floating IP is back on the old server)', describe: 'stop the new API container' }, async () => {
    frozenAt = performance.now()
    await freezeNew(s)
  })
  await rb.step('unfreeze old database', { mutates: true, describe: 'PostgreSQL read-write again; the old app stays stopped until the sync is in' }, () => unfreezeOldDb(s))
  const r = await rb.step('reverse sync', { mutates: true, describe: 'the new side\'s writes since the cutover mark into PostgreSQL' }, (p) => syncOnNewHost(s, 'reverse', p.progress, { keepApiStopped: true }))
  report.reverse = r?.report?.reverse ?? []
  await rb.step('advance sequences', { mutates: true, describe: 'the old app\'s next ids after those the new side handed out' }, () => advanceSequences(s))
  await rb.step('start old app', { mutates: true, describe: s.appUnit ? `systemctl start ${s.appUnit}` : 'no app unit in the inventory' }, () => startOldApp(s))
  await rb.step('move traffic back', { destructive: 'move the floating IP (the clients) back to the old server', describe: `assign floating IP ${s.floatingIpId} to server ${s.oldServerId}` }, async (p) => {
    await moveFloatingIp(s, s.oldServerId)
    report.writeFreezeMs = performance.now() - frozenAt
    p.progress(`writes were frozen for ${(report.writeFreezeMs / 1000).toFixed(1)} s`)
  })
  await rb.step('soak', { describe: 'the client address answers from the old side' }, async () => {
    await soak(s.clientUrl, opts.soakSeconds ?? 5, (b) => b.legacy === true || s.appUnit === undefined)
  })
  return write(rb, Object.assign(report, { ok: true }), opts.reportDir)
}

function write(rb: Runbook, report: RollbackReport, dir = 'reports'): RollbackReport {
  report.steps = rb.stepTimings()
  if (!rb.planning) {
    fs.mkdirSync(dir, { recursive: true })
    const base = path.join(dir, `rollback-${report.startedAt.replace(/[:.]/g, '-')}`)
    fs.writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n')
    const md = [
      `# Rollback ${report.ok ? 'done' : 'FAILED'} (${report.startedAt})`,
      '',
      report.alreadyDone ? 'The floating IP was on the old server already.' : `Write freeze: **${report.writeFreezeMs === null ? '–' : `${(report.writeFreezeMs / 1000).toFixed(2)} s`}**`,
      '',
      ...reverseTable(report.reverse),
      '',
      ...stepTimingsTable(report.steps),
      '',
    ]
    fs.writeFileSync(`${base}.md`, md.join('\n'))
    rb.log(`  report: ${base}.md`)
  }
  return report
}
