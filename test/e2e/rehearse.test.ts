// The whole rehearsal, end to end, as `npm run rehearse` runs it but with a smaller seed: lab from
// nothing, deploy, migrate on the new host, cutover while clients write through the floating
// address, verify, remove MySQL, rollback drill. Every acknowledged write must be found afterwards
// on the side that holds the data, each time; the report must say so.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { rehearse, type RehearseReport } from '../../runbooks/rehearse.ts'
import { labDown } from '../../runbooks/lab/lab.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-rehearse-'))
process.env.OCEAN_OPS_LAB_DIR = dir

after(async () => {
  await labDown()
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('rehearse: the whole move on the lab', { timeout: 1_200_000 }, () => {
  let report: RehearseReport

  it('runs from nothing to a verified cutover, MySQL removed, and a rollback drill', async () => {
    const lines: string[] = []
    const log = (l: string) => {
      lines.push(l)
      process.stderr.write(`${l}\n`)
    }
    report = await rehearse({ seed: { users: 3000, telemetryRows: 100_000 }, rate: 30, watchSeconds: 10, reportDir: path.join(dir, 'reports'), log })
    const f = (x: NonNullable<RehearseReport['move']>['found']) => `users ${x.users.found}/${x.users.acked}, events ${x.telemetry.found}/${x.telemetry.acked}`
    process.stderr.write(`rehearse figures: move ${report.move ? f(report.move.found) : '-'}, write freeze ${report.writeFreezeSeconds?.toFixed(2)} s; rollback drill ${report.rollbackDrill ? `${f(report.rollbackDrill.found)}, write freeze ${((report.rollbackDrill.report.writeFreezeMs ?? 0) / 1000).toFixed(2)} s, ${report.rollbackDrill.report.buffer?.storedEvents ?? 0} events drained from Redis` : '-'}\n`)
    assert.equal(report.ok, true, report.failures.join('; '))
    assert.ok(report.steps.every((s) => s.ok))
    // The engine in the image read the copied SQLite chunks back in its worker thread, never falling back.
    assert.deepEqual(lines.filter((l) => /read back here/.test(l)), [])
  })

  it('loses no write in the move: every acknowledged write is on the new side', () => {
    const m = report.move!
    assert.ok(m.traffic.acked.users > 10 && m.traffic.acked.telemetry > 30, 'clients really wrote during the move')
    assert.equal(m.traffic.sent.users + m.traffic.sent.telemetry, m.traffic.acked.users + m.traffic.acked.telemetry)
    assert.deepEqual(m.found.users.missing, [])
    assert.equal(m.found.users.found, m.found.users.acked)
    assert.equal(m.found.telemetry.found, m.found.telemetry.acked)
    assert.deepEqual(m.found.telemetry.missing, [])
    assert.ok(m.traffic.retried > 0, 'the freeze was seen by the clients (their writes were refused and retried)')
  })

  it('measures the write freeze and verifies every table at the cutover', () => {
    assert.ok(report.writeFreezeSeconds !== null && report.writeFreezeSeconds > 0)
    // The freeze by phase: the phases happen one after the other inside it, and the new side answered.
    const f = report.cutover!.freezePhases
    assert.ok(f, 'the cutover report breaks the freeze into phases')
    for (const ms of [f.freezeOldMs, f.finalSyncMs, f.finalSyncSidesMs.sqlite, f.finalSyncSidesMs.duckdb, f.moveIpMs]) assert.ok(ms > 0, JSON.stringify(f))
    assert.ok(Math.max(f.finalSyncSidesMs.sqlite, f.finalSyncSidesMs.duckdb) <= f.finalSyncMs + 1, JSON.stringify(f))
    // Warm engines: each reports its own work after the freeze, within its side's time, and how it split.
    for (const side of ['sqlite', 'duckdb'] as const) {
      const engine = f.finalSyncEngineMs?.[side]
      assert.ok(typeof engine === 'number' && engine <= f.finalSyncSidesMs[side] + 1, JSON.stringify(f))
      assert.ok(f.finalSyncWorkMs?.[side], JSON.stringify(f))
    }
    assert.ok(f.freezeOldMs + f.finalSyncMs + f.moveIpMs <= report.writeFreezeSeconds * 1000 + 1, JSON.stringify(f))
    assert.ok(f.firstAnswerMs !== null && f.firstAnswerMs >= 0, JSON.stringify(f))
    assert.ok(report.cutover!.parity.length >= 5)
    for (const t of report.cutover!.parity) assert.equal(t.sourceChecksum, t.targetChecksum, t.table)
    assert.equal(report.verification?.ok, true)
  })

  it('removes the rogue MySQL for good: it does not respawn and the old host\'s CPU drops', () => {
    assert.ok(report.mysql!.removed >= 1)
    assert.equal(report.mysql!.respawned, 0)
    assert.ok(report.mysql!.cpuAfter !== null && report.mysql!.cpuAfter < report.mysql!.cpuBefore, `${report.mysql!.cpuBefore} -> ${report.mysql!.cpuAfter}`)
  })

  it('the rollback drill brings every write made on the new side back into PostgreSQL', () => {
    const d = report.rollbackDrill!
    assert.ok(d.traffic.acked.users + d.traffic.acked.telemetry > 20)
    assert.equal(d.found.users.found, d.found.users.acked)
    assert.equal(d.found.telemetry.found, d.found.telemetry.acked)
  })

  it('the disk-loss drill brings back every write acknowledged before the restored point, with a gap within the RPO', () => {
    const d = report.diskLoss!
    assert.ok(d, 'the lab inventory has backups: the drill ran')
    assert.ok(d.before.users > 0 && d.before.events > 0, JSON.stringify(d.before))
    assert.equal(d.before.usersFound, d.before.users, JSON.stringify(d.before))
    assert.equal(d.before.eventsFound, d.before.events, JSON.stringify(d.before))
    assert.ok(d.gap.users + d.gap.events > 0, 'clients wrote after the backup: those writes are the gap')
    assert.ok(d.gap.seconds <= d.gap.rpoSeconds, JSON.stringify(d.gap))
    assert.ok(d.restoreSeconds > 0 && d.backupSeconds > 0)
  })

  it('the alert drill: TargetDown fired after the API stopped, reached the webhook, and resolved after it started', () => {
    const a = report.alert!
    assert.ok(a, 'the lab inventory has monitoring: the drill ran')
    const t = (x: string | null) => Date.parse(x ?? '')
    assert.equal(a.alert, 'TargetDown')
    // In order, and the rule's `for: 1m` honoured: firing no sooner than a minute after the stop.
    assert.ok(t(a.stoppedAt) < t(a.firingAt) && t(a.firingAt) <= t(a.notifiedAt) && t(a.notifiedAt) <= t(a.startedAgainAt), JSON.stringify(a))
    assert.ok(t(a.firingAt) - t(a.stoppedAt) >= 60_000, JSON.stringify(a))
    assert.ok(t(a.startedAgainAt) < t(a.resolvedAt) && t(a.startedAgainAt) < t(a.resolvedNotifiedAt), JSON.stringify(a))
  })

  it('writes the report as Markdown and JSON', () => {
    const files = fs.readdirSync(path.join(dir, 'reports')).filter((f) => f.startsWith('rehearse-'))
    assert.ok(files.some((f) => f.endsWith('.md')) && files.some((f) => f.endsWith('.json')))
    const md = fs.readFileSync(path.join(dir, 'reports', files.find((f) => f.endsWith('.md'))!), 'utf8')
    assert.match(md, /Rehearsal PASSED/)
    assert.match(md, /write freeze/)
    assert.match(md, /disk-loss drill: .* passed/)
    assert.match(md, /alert drill \(TargetDown\): .* firing .* resolved .* passed/)
  })
})
