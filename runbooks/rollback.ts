// `ocean-ops rollback`: the cutover's path in reverse, after a completed cutover. The new side is
// frozen, the writes it took since the cutover mark go back into PostgreSQL, the old side takes
// writes again, and the floating IP moves back. Read top to bottom, these are its steps.
import type { BufferAccount } from '@ocean-ops/ocean/buffer/drain-result'
import { accountForNewBuffer, advanceSequences, dropCapture, freezeNew, moveFloatingIp, openSides, soak, startOldApp, syncOnNewHost, unfreezeNew, unfreezeOldDb } from './lib/cutover/sides.ts'
import type { Inventory } from './lib/inventory.ts'
import { reverseTable } from '@ocean-ops/migrate'
import type { ReverseResult } from '@ocean-ops/migrate'
import { OpsError } from '@ocean-ops/common'
import { stepTimingsTable, type Runbook, type StepTiming } from './lib/runbook.ts'
import { reportJson, writeReport } from '@ocean-ops/common'

export interface RollbackReport {
  ok: boolean
  startedAt: string
  /** From the new side's freeze until the floating IP answers on the old side. */
  writeFreezeMs: number | null
  reverse: ReverseResult[]
  /** What the new side's buffer still held when it was frozen, now stored and synced back. */
  buffer?: BufferAccount
  /** Sessions created (or revoked) on the new side: not carried back, their users log in again. */
  sessionsNotCarriedBack: number
  steps: StepTiming[]
  alreadyDone?: boolean
}

export async function rollback(rb: Runbook, inv: Inventory, opts: { soakSeconds?: number; reportDir?: string } = {}): Promise<RollbackReport> {
  const startedAt = new Date().toISOString()
  const report: RollbackReport = { ok: false, startedAt, writeFreezeMs: null, reverse: [], sessionsNotCarriedBack: 0, steps: [] }
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
      await dropCapture(s)
      await startOldApp(s)
    })
    return write(rb, Object.assign(report, { ok: true, alreadyDone: true }), opts.reportDir)
  }

  let frozenAt = 0
  await rb.step('freeze new', { destructive: 'stop the new API (clients retry until the floating IP is back on the old server)', describe: 'stop the new API container; its worker stores the buffer first' }, async () => {
    frozenAt = performance.now()
    await freezeNew(s)
  })
  report.buffer = await rb.step('drain buffer', { mutates: true, describe: 'every event the new API acknowledged stored in DuckDB (what is still in Redis too), none dead-lettered' }, async (p) => {
    try {
      return await accountForNewBuffer(s, p.progress)
    } catch (e) {
      // Nothing moved yet: the new side serves again rather than leave the clients with no side at all.
      p.progress('the buffer is not accounted for: the new API is started again and keeps serving the clients')
      await unfreezeNew(s).catch((x: Error) => p.progress(`starting the new API failed too: ${x.message}`))
      throw e
    }
  })
  await rb.step('unfreeze old database', { mutates: true, describe: 'PostgreSQL read-write again; the old app stays stopped until the sync is in' }, () => unfreezeOldDb(s))
  const r = await rb.step('reverse sync', { mutates: true, describe: 'the new side\'s writes since the cutover mark into PostgreSQL' }, (p) => syncOnNewHost(s, 'reverse', p.progress, { keepApiStopped: true, bufferAccounted: true }))
  report.reverse = r?.report?.reverse ?? []
  report.sessionsNotCarriedBack = report.reverse.find((x) => x.table === 'sessions')?.notCarriedBack ?? 0
  if (report.sessionsNotCarriedBack) rb.log(`  ${sessionsLine(report.sessionsNotCarriedBack)}`)
  await rb.step('advance sequences', { mutates: true, describe: 'the old app\'s next ids after those the new side handed out' }, () => advanceSequences(s))
  await rb.step('drop change log', { mutates: true, describe: 'the cutover\'s triggers off the old database: it serves again without them' }, () => dropCapture(s))
  await rb.step('start old app', { mutates: true, describe: s.appUnit ? `systemctl start ${s.appUnit}` : 'no app unit in the inventory' }, () => startOldApp(s))
  await rb.step('move traffic back', { destructive: 'move the floating IP (the clients) back to the old server', describe: `assign floating IP ${s.floatingIpId} to server ${s.oldServerId}` }, async (p) => {
    await moveFloatingIp(s, s.oldServerId)
    // A resumed run froze in the interrupted one: its window is not measured here.
    report.writeFreezeMs = frozenAt ? performance.now() - frozenAt : null
    if (report.writeFreezeMs !== null) p.progress(`writes were frozen for ${(report.writeFreezeMs / 1000).toFixed(1)} s`)
  })
  await rb.step('soak', { describe: 'the client address answers from the old side' }, async () => {
    await soak(s.clientUrl, opts.soakSeconds ?? 5, (b) => b.legacy === true || s.appUnit === undefined)
  })
  return write(rb, Object.assign(report, { ok: true }), opts.reportDir)
}

function write(rb: Runbook, report: RollbackReport, dir = 'reports'): RollbackReport {
  report.steps = rb.stepTimings()
  if (!rb.planning) {
    const md = [
      `# Rollback ${report.ok ? 'done' : 'FAILED'} (${report.startedAt})`,
      '',
      report.alreadyDone ? 'The floating IP was on the old server already.' : `Write freeze: **${report.writeFreezeMs === null ? '–' : `${(report.writeFreezeMs / 1000).toFixed(2)} s`}**`,
      '',
      ...(report.buffer ? [`Buffer: ${report.buffer.storedEvents} acknowledged events were still in the new side's Redis when it was frozen; stored before the reverse sync, nothing left, none dead-lettered.`, ''] : []),
      ...(report.sessionsNotCarriedBack ? [sessionsLine(report.sessionsNotCarriedBack), ''] : []),
      ...reverseTable(report.reverse),
      '',
      ...stepTimingsTable(report.steps),
      '',
    ]
    const files = writeReport(dir, 'rollback', report.startedAt, { json: reportJson(report), md: md.join('\n') })
    rb.log(`  report: ${files.md}`)
  }
  return report
}

/** What users see of the sessions made on the new side (its SQLite keeps SHA-256(token); the old app needs the token). */
export function sessionsLine(n: number): string {
  return `Sessions: ${n} change${n === 1 ? '' : 's'} to sessions on the new side (logins, revocations) could not be carried back: the new side keeps only a hash of each token, the old app needs the token. ` +
    'Users who logged in on the new side log in again; a session from before the cutover that was revoked on the new side is valid again on the old side until it expires or is revoked there.'
}
