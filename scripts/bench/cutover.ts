// Benchmark 8: the cutover's write freeze on the lab at 1 M and at 5 M telemetry rows (100 000
// users each; quick: 200 000 and 1 M), clients writing through the floating address. Each size is
// a whole rehearsal without its rollback drill (lab from nothing, deploy, copy, cutover, verify):
// the freeze and its phases come from the cutover's own report. A freeze in O(changes) does not
// follow the data: the ratio of the two freezes is the figure (goal <= 1.2), and <= 2 s at 5 M.
// The lab's containers are ours (created by the rehearsal) and taken down at the end.
import os from 'node:os'
import path from 'node:path'
import fs from 'node:fs'
import { rehearse, type RehearseReport } from '../../runbooks/rehearse.ts'
import { labDown, labStatus } from '../../runbooks/lab/lab.ts'
import { freezePhasesLine, type FreezePhases } from '../../runbooks/cutover.ts'
import { atMost, fmt, row, type BenchContext } from './report.ts'

interface Sized {
  telemetry: number
  freezeMs: number
  phases: FreezePhases
  acked: number
  found: number
}

async function one(ctx: BenchContext, telemetry: number, reportDir: string): Promise<Sized> {
  ctx.log(`   rehearsal with 100,000 users and ${telemetry.toLocaleString('en-US')} telemetry rows (no rollback drill)`)
  const r: RehearseReport = await rehearse({ seed: { users: 100_000, telemetryRows: telemetry }, rate: 20, rollbackDrill: false, watchSeconds: 5, reportDir, log: () => undefined })
  const c = r.cutover
  if (!c?.ok || c.writeFreezeMs === null || !c.freezePhases) throw new Error(`the rehearsal at ${telemetry} rows did not complete its cutover: ${r.failures.join('; ') || c?.error || 'no cutover report'}`)
  const found = r.move?.found
  ctx.log(`   ${telemetry.toLocaleString('en-US')} rows: freeze ${fmt(c.writeFreezeMs / 1000)} s = ${freezePhasesLine(c.freezePhases)}`)
  return { telemetry, freezeMs: c.writeFreezeMs, phases: c.freezePhases, acked: (found?.users.acked ?? 0) + (found?.telemetry.acked ?? 0), found: (found?.users.found ?? 0) + (found?.telemetry.found ?? 0) }
}

export async function cutoverBench(ctx: BenchContext): Promise<void> {
  const [small, large] = ctx.quick ? [200_000, 1_000_000] : [1_000_000, 5_000_000]
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-bench-cutover-'))
  try {
    const a = await one(ctx, small, path.join(dir, 'small'))
    const b = await one(ctx, large, path.join(dir, 'large'))
    const label = (n: number) => `${n / 1_000_000} M`
    const note = (s: Sized) => `${freezePhasesLine(s.phases)}; acknowledged ${s.acked}, found ${s.found}`
    ctx.rows.push(row('8', `cutover write freeze at ${label(a.telemetry)} telemetry rows`, a.freezeMs / 1000, 's', { note: note(a) }))
    ctx.rows.push(
      row('8', `cutover write freeze at ${label(b.telemetry)} telemetry rows`, b.freezeMs / 1000, 's', {
        baseline: { name: `the freeze at ${label(a.telemetry)}`, value: a.freezeMs / 1000 },
        goals: [atMost(b.freezeMs / 1000, 2, '<= 2 s'), atMost(b.freezeMs / a.freezeMs, 1.2, `<= 1.2x the freeze at ${label(a.telemetry)}`), atMost(b.acked - b.found, 0, 'acknowledged = found')],
        note: note(b),
      }),
    )
    ctx.details.cutover = { small: a, large: b }
  } finally {
    if ((await labStatus()).lab) await labDown({ log: () => undefined })
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
