// `ocean-ops cutover`: move the clients from the old system to the new one without losing a
// write. Read top to bottom, these are its steps; any failure after the freeze rolls back on its
// own (the floating IP back, the old side unfrozen, the new side's writes synced back).
import { backupArgv, tableCountArgv } from './lib/cutover/old-side.ts'
import { accountForNewBuffer, advanceSequences, captureChanges, dropCapture, freezeOld, moveFloatingIp, newApiStopped, openSides, soak, startOldApp, syncOnNewHost, unfreezeNew, unfreezeOldDb, type Sides } from './lib/cutover/sides.ts'
import { waitReady, type OnNewHostResult } from './lib/migrate-remote/on-new-host.ts'
import type { Inventory } from './lib/inventory.ts'
import { OpsError, isOpsError } from '@ocean-ops/common'
import { stepTimingsTable, type Runbook, type StepTiming } from './lib/runbook.ts'
import { reportJson, writeReport } from '@ocean-ops/common'
import type { ChangesTimings } from '@ocean-ops/migrate'

export interface CutoverOptions {
  /** Seconds the client address is watched after the move (default 10). */
  soakSeconds?: number
  reportDir?: string
}

export interface CutoverReport {
  ok: boolean
  startedAt: string
  finishedAt: string
  /** From the old side's freeze until the floating IP was moved (the assign action finished). */
  writeFreezeMs: number | null
  /** The write freeze by phase, so a regression shows where it is (absent for a resumed run: it froze in another). */
  freezePhases?: FreezePhases
  backup?: { file: string; sha256: string; bytes: number; tables: number }
  steps: StepTiming[]
  rolledBack: boolean
  /** Per table, as the final sync verified it (rows and checksums on both sides). */
  parity: Array<{ table: string; target: string; sourceRows: number | null; targetRows: number | null; sourceChecksum: string | null; targetChecksum: string | null; status: string }>
  error?: string
  alreadyDone?: boolean
}

export interface FreezePhases {
  /** The old app stopped and PostgreSQL set read-only. */
  freezeOldMs: number
  /** The final delta, both sides at once (wall time), and each side's own time: engine start, introspection, delta, verification. */
  finalSyncMs: number
  finalSyncSidesMs: { sqlite: number; duckdb: number }
  /** Of each side's time, its engine's own work after it saw the freeze (the rest: the engine's exit and, for DuckDB, the API taking the file and answering /ready); absent for a cold run. */
  finalSyncEngineMs?: { sqlite: number | null; duckdb: number | null }
  /** Each engine's work split into reading (the log, the named rows), applying (writes, the tail) and verifying. */
  finalSyncWorkMs?: { sqlite: ChangesTimings | null; duckdb: ChangesTimings | null }
  /** The Hetzner assign until its action finished. */
  moveIpMs: number
  /** From the move until the client address first answered from the new side (/ready); null if it never did. */
  firstAnswerMs: number | null
}

export async function cutover(rb: Runbook, inv: Inventory, opts: CutoverOptions = {}): Promise<CutoverReport> {
  const startedAt = new Date().toISOString()
  const report: CutoverReport = { ok: false, startedAt, finishedAt: startedAt, writeFreezeMs: null, steps: [], rolledBack: false, parity: [] }
  const s = (await rb.step('connect', { describe: 'both hosts (pinned keys), the Hetzner API, the inventory complete' }, () => openSides(inv)))!

  const state = await rb.step('preflight', { describe: 'the new API ready, the floating IP on the old server, the old database answering' }, async (p) => {
    const fip = await s.hetzner.getFloatingIp(s.floatingIpId)
    if (fip.server === s.newServerId) return 'done'
    // A rollback leaves the new API stopped; with the clients on the old side it may serve again.
    if (fip.server === s.oldServerId && !rb.planning && (await newApiStopped(s))) {
      p.progress('the new API is stopped (a rollback froze it): starting it')
      await unfreezeNew(s)
    }
    await waitReady(s.newUrl, 10_000)
    if (fip.server !== s.oldServerId) throw new OpsError('OPS_E_PRECONDITION', `the floating IP ${fip.ip} is assigned to server ${fip.server}, neither the old (${s.oldServerId}) nor the new (${s.newServerId}): assign it to the old server and configure it there first (clients must already reach the old system through it), or fix the inventory`)
    const tables = Number((await s.oldHost.exec(tableCountArgv(s.db), { sudo: true })).stdout.trim())
    p.progress(`floating IP ${fip.ip} on the old server ${s.oldServerId}; ${tables} tables in ${s.db.database}`)
    return 'ready'
  })
  if (state === 'done') {
    rb.log('  the floating IP is on the new server already: the cutover was done; nothing to do (`ocean-ops rollback` goes back)')
    return finish(rb, report, { ok: true, alreadyDone: true }, opts)
  }

  report.backup = await rb.step('backup', { mutates: true, describe: `pg_dump of ${s.db.database} on the old host, checked by listing it` }, async (p) => {
    const file = `/var/backups/ocean-ops/${s.db.database}-${startedAt.replace(/[:.]/g, '-')}.dump`
    const want = Number((await s.oldHost.exec(tableCountArgv(s.db), { sudo: true })).stdout.trim())
    const [tables, sha256, bytes] = (await s.oldHost.exec(backupArgv(s.db, file), { sudo: true })).stdout.trim().split('\n')
    if (Number(tables) < want) throw new OpsError('OPS_E_BACKUP', `the backup ${file} lists ${tables} tables with data, the database has ${want}: not going on without a whole backup`)
    p.progress(`${file}: ${tables} tables, ${(Number(bytes) / 1e6).toFixed(1)} MB, sha256 ${sha256!.slice(0, 16)}…`)
    return { file, sha256: sha256!, bytes: Number(bytes), tables: Number(tables) }
  })

  await rb.step('capture changes', { mutates: true, describe: 'the change log on the old database (statement triggers write each changed key into ocean_ops.changes), so the frozen sync reads only what changed' }, async (p) => {
    p.progress(`${await captureChanges(s)} tables log their writes`)
  })

  // The mark goes in before the freeze (not inside it): from here the new side's writes are tracked
  // for a rollback. The final delta's own writes are tracked too; synced back they change nothing,
  // PostgreSQL has those rows already.
  await rb.step('pre-sync', { mutates: true, describe: 'delta while the old side still takes writes, so the frozen one is short' }, (p) => syncOnNewHost(s, 'delta', p.progress, { live: true }))
  await rb.step('mark', { mutates: true, describe: 'the cutover mark: from here the new side\'s writes are tracked for a rollback' }, (p) => syncOnNewHost(s, 'mark-cutover', p.progress))

  let frozenAt = 0
  const phases: Partial<FreezePhases> = {}
  let movedAt = 0
  // Set before the assign is asked for: a call that failed or timed out may still have moved the IP.
  let moveAsked = false
  // The final sync's engines, started before the freeze and waiting for it (absent in a resumed run).
  const warm = new AbortController()
  let finals: Record<Side, Promise<OnNewHostResult>> | undefined
  try {
    await rb.step('warm final sync', { mutates: true, describe: 'both final-sync engines started on the new host, connected and planned, waiting for the freeze (the new API stopped for DuckDB\'s; it serves no client yet)' }, async (p) => {
      let ready = 0
      let bothReady!: () => void
      const both = new Promise<void>((r) => (bothReady = r))
      const start = (side: Side) =>
        syncOnNewHost(s, 'changes', (l) => p.progress(`[${side}] ${l}`), { only: side, waitFreeze: true, signal: warm.signal, onReady: () => ++ready === 2 && bothReady() })
      finals = { sqlite: start('sqlite'), duckdb: start('duckdb') }
      // Awaited in the final sync (or settled on the way out); an engine that ends before the freeze fails this step.
      for (const f of Object.values(finals)) f.catch(() => undefined)
      const early = Object.values(finals).map((f) => f.then(() => Promise.reject(new OpsError('OPS_E_MIGRATE_STATE', 'a final-sync engine ended before the freeze: its output is above'))))
      await Promise.race([both, ...early])
      p.progress('both engines wait for the freeze')
    })
    await rb.step('freeze old', { destructive: 'stop writes on the old system (its app stopped, PostgreSQL read-only); clients retry until the move', describe: 'stop the old app; PostgreSQL read-only' }, async () => {
      frozenAt = performance.now()
      await freezeOld(s)
      phases.freezeOldMs = performance.now() - frozenAt
    })
    await rb.step('final sync', { mutates: true, describe: 'what the change log names since the pre-sync, written and checked row by row; every other chunk keeps its verified checksums (SQLite and DuckDB at once)' }, async (p) => {
      // Both end before anything else happens (a rollback must not start beside a running engine).
      const t0 = performance.now()
      const timed = async <T>(side: 'sqlite' | 'duckdb', run: Promise<T>): Promise<T> => {
        try {
          return await run
        } finally {
          ;(phases.finalSyncSidesMs ??= { sqlite: 0, duckdb: 0 })[side] = performance.now() - t0
        }
      }
      // A resumed run has no warm engines: they start now, cold.
      const run = (side: Side) => finals?.[side] ?? syncOnNewHost(s, 'changes', (l) => p.progress(`[${side}] ${l}`), { only: side })
      const settled = await Promise.allSettled([timed('sqlite', run('sqlite')), timed('duckdb', run('duckdb'))])
      phases.finalSyncMs = performance.now() - t0
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) throw failed.reason
      const values = settled.map((r) => (r as PromiseFulfilledResult<OnNewHostResult>).value)
      const [sq, dk] = values.map((v) => v.afterFreezeMs ?? null)
      if (sq !== null || dk !== null) phases.finalSyncEngineMs = { sqlite: sq ?? null, duckdb: dk ?? null }
      const [sw, dw] = values.map((v) => v.report?.changesMs ?? null)
      if (sw || dw) phases.finalSyncWorkMs = { sqlite: sw ?? null, duckdb: dw ?? null }
      report.parity = settled
        .map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof syncOnNewHost>>>).value)
        .flatMap((r) => r.report?.tables ?? [])
        .map((t) => ({ table: t.table, target: t.target, sourceRows: t.sourceRows, targetRows: t.targetRows, sourceChecksum: t.sourceChecksum, targetChecksum: t.targetChecksum, status: t.status }))
        .sort((a, b) => a.table.localeCompare(b.table))
    })
    await rb.step('move traffic', { destructive: 'move the floating IP (the clients) to the new server', describe: `assign floating IP ${s.floatingIpId} to server ${s.newServerId}` }, async (p) => {
      moveAsked = true
      const r = await moveFloatingIp(s, s.newServerId)
      movedAt = performance.now()
      phases.moveIpMs = r.ms
      // A resumed run froze in the interrupted one: its window is not measured here.
      report.writeFreezeMs = frozenAt ? movedAt - frozenAt : null
      p.progress(`moved in ${(r.ms / 1000).toFixed(1)} s${report.writeFreezeMs === null ? '' : `; writes were frozen for ${(report.writeFreezeMs / 1000).toFixed(1)} s`}`)
    })
    await rb.step('soak', { describe: `the client address answers from the new side for ${opts.soakSeconds ?? 10} s` }, async (p) => {
      // /ready, not /health: a new side whose Redis or DuckDB does not answer must not pass.
      const r = await soak(s.clientUrl, opts.soakSeconds ?? 10, (b) => b.legacy !== true, '/ready')
      if (frozenAt && movedAt) {
        phases.firstAnswerMs = r.firstAnswerAt === null ? null : r.firstAnswerAt - movedAt
        report.freezePhases = phases as FreezePhases
        p.progress(freezePhasesLine(report.freezePhases))
      }
      p.progress(`${r.probes} probes answered by the new service${r.failed ? ` (${r.failed} slow or failed, never 3 in a row)` : ''}`)
    })
  } catch (e) {
    // Warm engines whose freeze will not come go first (a rollback must not start beside an engine).
    warm.abort()
    await Promise.allSettled(Object.values(finals ?? {}))
    if (rb.planning || (frozenAt === 0 && !rb.opts.resume)) throw e
    rb.log(`  cutover failed (${(e as Error).message}); rolling back`)
    // A resumed run does not know whether the interrupted one moved the IP: Hetzner says (unreachable: assume it did).
    const maybeOnNew = moveAsked || (await s.hetzner.getFloatingIp(s.floatingIpId).then((f) => f.server !== s.oldServerId, () => true))
    await autoRollback(rb, s, maybeOnNew)
    report.rolledBack = true
    report.error = (e as Error).message
    finish(rb, report, { ok: false }, opts)
    throw e
  }
  return finish(rb, report, { ok: true }, opts)
}

/**
 * Back to the old side from a failed step: no write made on either side is lost. When clients may
 * have reached the new side, its buffer is stored and its writes synced back first; if that cannot
 * be done, the clients stay on the new side (serving again) and the error says how to go on.
 */
async function autoRollback(rb: Runbook, s: Sides, maybeOnNew: boolean): Promise<void> {
  await rb.step('auto-rollback', { mutates: true, describe: 'new side frozen and its buffer stored, its writes synced back, old side unfrozen, floating IP back' }, async (p) => {
    if (maybeOnNew) {
      try {
        await accountForNewBuffer(s, p.progress)
        await unfreezeOldDb(s)
        await syncOnNewHost(s, 'reverse', p.progress, { keepApiStopped: true, bufferAccounted: true })
        await advanceSequences(s)
      } catch (e) {
        p.progress('the new side\'s writes cannot all be carried back: the clients stay on the new side, which serves again')
        await freezeOld(s).catch((x: Error) => p.progress(`freezing the old database again failed: ${x.message}`))
        await unfreezeNew(s).catch((x: Error) => p.progress(`starting the new API failed too: ${x.message}`))
        const code = isOpsError(e) ? e.code : 'OPS_E_VERIFY'
        throw new OpsError(code, `the automatic rollback stopped before moving the clients back (${(e as Error).message}). The floating IP stays on the new server; once the cause is fixed, run \`ocean-ops rollback\``)
      }
    } else {
      await unfreezeOldDb(s)
    }
    await dropCapture(s)
    await startOldApp(s)
    await moveFloatingIp(s, s.oldServerId)
  })
}

type Side = 'sqlite' | 'duckdb'

function finish(rb: Runbook, report: CutoverReport, extra: Partial<CutoverReport>, opts: CutoverOptions): CutoverReport {
  Object.assign(report, extra, { finishedAt: new Date().toISOString(), steps: rb.stepTimings() })
  if (!rb.planning) {
    const files = writeReport(opts.reportDir ?? 'reports', 'cutover', report.startedAt, { json: reportJson(report), md: cutoverMarkdown(report) })
    rb.log(`  report: ${files.md}`)
  }
  return report
}

/** The final delta's verdict per table as a Markdown table (the cutover's and the rehearsal's reports); none without tables. */
export function parityTable(parity: CutoverReport['parity']): string[] {
  if (!parity.length) return []
  return [
    '| table | target | source rows | target rows | checksums | status |',
    '|---|---|---|---|---|---|',
    ...parity.map((t) => `| ${t.table} | ${t.target} | ${t.sourceRows ?? '–'} | ${t.targetRows ?? '–'} | ${t.sourceChecksum === t.targetChecksum ? 'equal' : 'DIFFER'} | ${t.status} |`),
  ]
}

/** The freeze's phases on one line (the runbook's output and the reports). */
export function freezePhasesLine(f: FreezePhases): string {
  const s = (ms: number | null) => (ms === null ? '–' : `${(ms / 1000).toFixed(2)} s`)
  const e = f.finalSyncEngineMs
  const work = (w: ChangesTimings | null | undefined) => (w ? `: read ${s(w.readMs)}, apply ${s(w.applyMs)}, verify ${s(w.verifyMs)}` : '')
  const sqlite = `SQLite side ${s(f.finalSyncSidesMs.sqlite)}${typeof e?.sqlite === 'number' ? ` (its engine ${s(e!.sqlite)}${work(f.finalSyncWorkMs?.sqlite)})` : ''}`
  const duckdb = `DuckDB side ${s(f.finalSyncSidesMs.duckdb)}${typeof e?.duckdb === 'number' ? ` (its engine ${s(e!.duckdb)}${work(f.finalSyncWorkMs?.duckdb)}; then the API taking the file and answering /ready)` : ''}`
  return `freeze old ${s(f.freezeOldMs)} + final sync ${s(f.finalSyncMs)} (${sqlite}, ${duckdb}) + move IP ${s(f.moveIpMs)}; first answer on the new side ${s(f.firstAnswerMs)} after the move`
}

export function cutoverMarkdown(r: CutoverReport): string {
  const lines = [
    `# Cutover ${r.ok ? 'done' : 'FAILED'} (${r.startedAt})`,
    '',
    r.alreadyDone ? 'The floating IP was on the new server already: nothing was done.' : `Write freeze: **${r.writeFreezeMs === null ? '–' : `${(r.writeFreezeMs / 1000).toFixed(2)} s`}** (from the old side's freeze until the floating IP was moved).`,
    r.freezePhases ? `\nBy phase: ${freezePhasesLine(r.freezePhases)}.` : '',
    r.rolledBack ? `\nRolled back automatically: ${r.error}` : '',
    r.backup ? `\nBackup: \`${r.backup.file}\`, ${r.backup.tables} tables, ${(r.backup.bytes / 1e6).toFixed(1)} MB, sha256 \`${r.backup.sha256}\`` : '',
    '',
    ...stepTimingsTable(r.steps),
    '',
    ...parityTable(r.parity),
    '',
  ]
  return lines.join('\n')
}
