// `ocean-ops rehearse` (npm run rehearse): the whole move on the lab, from nothing, with the same
// runbooks production runs. Read top to bottom, these are its steps. Clients write through a
// "floating IP" (a local proxy the Hetzner API stand-in repoints) during the whole move; afterwards
// every acknowledged write is looked for on the side that then holds the data.
import crypto from 'node:crypto'
import path from 'node:path'
import { labDown, labStatus, labUp, loadLab, type Lab } from './lab/lab.ts'
import { installLegacyApi, LEGACY_UNIT } from './lab/legacy-api.ts'
import { labInventory, secretFile, writeLabInventory } from './lab/lab-inventory.ts'
import type { SeedSize } from './lab/lab-state.ts'
import { HetznerStandin } from './lab/standins/hetzner-api.ts'
import { cutover, freezePhasesLine, parityTable, type CutoverReport } from './cutover.ts'
import { prepareCutover } from './prepare.ts'
import { deploy } from './deploy.ts'
import { closeHosts, connectHost } from './lib/host/connect.ts'
import { loadInventory, resolveSecret, type Inventory } from './lib/inventory.ts'
import { migrateDataOnNewHost } from './migrate-data.ts'
import { WriteTraffic, type TrafficSummary } from './lib/rehearse/write-traffic.ts'
import { diskLossDrill, type DiskLossDrill } from './rehearse-disk-loss.ts'
import { alertDrill, type AlertDrill } from './rehearse-alert.ts'
import { OpsError } from '@ocean-ops/common'
import { runRunbook, type Runbook } from './lib/runbook.ts'
import { removeMysql, type RemoveMysqlReport } from './remove-mysql.ts'
import { rollback, type RollbackReport } from './rollback.ts'
import { verify } from './verify.ts'
import { reportJson, writeReport } from '@ocean-ops/common'

export interface RehearseOptions {
  seed?: SeedSize
  /** Writes per second the clients send during the move (default 20). */
  rate?: number
  /** Run the rollback drill after the move (default true). */
  rollbackDrill?: boolean
  reportDir?: string
  log?: (line: string) => void
  /** Lose the new host's data after the move and restore it from backups (default true when the inventory has backups). */
  diskLossDrill?: boolean
  /** Seconds remove-mysql watches for a respawn (default 20). */
  watchSeconds?: number
  /** Stop the API and see the TargetDown alert fire, reach the webhook and resolve (default true when monitoring is on). */
  alertDrill?: boolean
}

export interface Found {
  users: { acked: number; found: number; missing: number[] }
  /** `found`: acknowledged events present; `duplicates`: extra copies of events a client sent again
   * after its connection was cut before the answer (at-least-once delivery: reported, not lost). */
  telemetry: { acked: number; found: number; missing: number[]; duplicates: number }
}

export interface RehearseReport {
  ok: boolean
  startedAt: string
  finishedAt: string
  lab: string
  steps: Array<{ step: string; seconds: number; ok: boolean; note?: string }>
  writeFreezeSeconds: number | null
  move: { traffic: TrafficSummary; found: Found } | null
  cutover: CutoverReport | null
  verification: { ok: boolean; failed: string[]; checks: number } | null
  mysql: { cpuBefore: number; cpuAfter: number | null; removed: number; respawned: number } | null
  rollbackDrill: { traffic: TrafficSummary; found: Found; report: RollbackReport } | null
  /** The new host's disk lost after the move and restored from the storage host. */
  diskLoss: DiskLossDrill | null
  /** An alert fired and resolved for real: the monitoring stack watched, Alertmanager delivered. */
  alert: AlertDrill | null
  failures: string[]
}

export const FLOATING_IP_ID = 4711
export const OLD_SERVER = 101
export const NEW_SERVER = 102

export async function rehearse(opts: RehearseOptions = {}): Promise<RehearseReport> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`))
  const report: RehearseReport = {
    ok: false, startedAt: new Date().toISOString(), finishedAt: '', lab: '', steps: [], writeFreezeSeconds: null,
    move: null, cutover: null, verification: null, mysql: null, rollbackDrill: null, diskLoss: null, alert: null, failures: [],
  }
  const step = async <T>(name: string, fn: () => Promise<T>, note?: (v: T) => string): Promise<T> => {
    log(`\n== ${name}`)
    const t0 = performance.now()
    try {
      const v = await fn()
      report.steps.push({ step: name, seconds: (performance.now() - t0) / 1000, ok: true, ...(note ? { note: note(v) } : {}) })
      return v
    } catch (e) {
      report.steps.push({ step: name, seconds: (performance.now() - t0) / 1000, ok: false, note: (e as Error).message.split('\n')[0] })
      throw e
    }
  }
  const reportDir = path.resolve(opts.reportDir ?? 'reports')
  let standin: HetznerStandin | undefined
  let traffic: WriteTraffic | undefined
  try {
    // From nothing: a lab left by an earlier rehearsal (or by hand) goes first; images stay cached.
    const lab = await step('lab up (from nothing)', async () => {
      // Stopped counts too: a stopped lab keeps what the last run left (a frozen old database).
      const before = await labStatus()
      if (before.lab || before.containers.length > 0 || (await loadLab())) await labDown({ log: (l) => log(`  lab: ${l}`) })
      return labUp({ seed: opts.seed, log: (l) => log(`  lab: ${l}`) })
    }, (l) => `lab ${l.id}`)
    report.lab = lab.id
    const journal = path.join(lab.dir, 'journal.db')
    const run = <T>(name: string, body: (rb: Runbook) => Promise<T>) => runRunbook(name, { journalPath: journal, yes: true, log: (l) => log(`  ${l}`) }, body)

    const { inv, inventoryFile, apiKey } = await step('floating IP and Hetzner API stand-ins', async () => {
      const token = crypto.randomBytes(16).toString('hex')
      standin = new HetznerStandin({ token, floatingIpId: FLOATING_IP_ID, servers: { [OLD_SERVER]: { host: lab.old.address, port: 8030 }, [NEW_SERVER]: { host: lab.new.address, port: 8030 } } })
      const { url, floatingPort } = await standin.start()
      return writeRehearseInventory(lab, { token, endpoint: url, floatingPort })
    }, (x) => `clients use ${x.inv.floatingIp?.url}`)

    await step('old app (legacy API stand-in) on the old host', () => installLegacyApi(lab, apiKey, (l) => log(`  ${l}`)))
    await step('cutover --prepare: the floating IP on the old server', () => run('cutover-prepare', (rb) => prepareCutover(rb, inv)), (p) => p.answered)
    await step('deploy to the new host', () => run('deploy', (rb) => deploy(rb, inv)), (r) => `${r.changed ? 'deployed' : 'unchanged'} ${r.release}`)
    await step('migrate (copy on the new host)', () => migrateDataOnNewHost({ inventory: inventoryFile, journal }))

    const clientUrl = inv.floatingIp!.url!
    traffic = new WriteTraffic({ url: clientUrl, apiKey, rate: opts.rate ?? 20, prefix: `rehearse-${Date.now().toString(36)}` })
    traffic.start()
    await new Promise((r) => setTimeout(r, 3000))
    const cut = await step('cutover (clients writing)', () => run('cutover', (rb) => cutover(rb, inv, { soakSeconds: 5, reportDir })), (r) => `write freeze ${((r.writeFreezeMs ?? 0) / 1000).toFixed(2)} s`)
    report.cutover = cut
    report.writeFreezeSeconds = cut.writeFreezeMs === null ? null : cut.writeFreezeMs / 1000
    await new Promise((r) => setTimeout(r, 3000))
    const gen = traffic
    const moved = await gen.stop()
    traffic = undefined
    const found = await step('every acknowledged write is on the new side', () => findOnNewSide(clientUrl, apiKey, gen, moved, (l) => log(`  ${l}`)), (f) => `${f.users.found}/${f.users.acked} users, ${f.telemetry.found}/${f.telemetry.acked} events`)
    report.move = { traffic: moved, found }
    if (found.users.found !== found.users.acked || found.telemetry.found !== found.telemetry.acked) report.failures.push(`writes lost in the move: ${JSON.stringify(found)}`)
    if (moved.errors.length) report.failures.push(`writes refused for good: ${moved.errors.slice(0, 3).join('; ')}`)

    const v = await step('verify the new stack', () => run('verify', (rb) => verify(rb, inv, { reportDir, load: { seconds: 3, connections: 4, p99Ms: 500, minRps: 20 } })), (r) => `${r.checks.filter((c) => c.ok).length}/${r.checks.length} checks`)
    report.verification = { ok: v.ok, failed: v.checks.filter((c) => !c.ok).map((c) => c.name), checks: v.checks.length }
    if (!v.ok) report.failures.push(`verification failed: ${report.verification.failed.join(', ')}`)

    if (inv.monitoring?.enabled !== false && opts.alertDrill !== false) {
      const secs = (a: string, b: string) => ((Date.parse(b) - Date.parse(a)) / 1000).toFixed(0)
      report.alert = await step('alert drill: the API stopped, TargetDown fires, reaches the webhook and resolves', () => alertDrill(inv, (l) => log(`  ${l}`)), (a) => `fired ${secs(a.stoppedAt, a.firingAt)} s after the stop, notified ${secs(a.stoppedAt, a.notifiedAt)} s; resolved ${secs(a.startedAgainAt, a.resolvedAt)} s after the start, notified ${secs(a.startedAgainAt, a.resolvedNotifiedAt)} s`)
    }

    const rm: RemoveMysqlReport = await step('remove MySQL from the old host', () => run('remove-mysql', (rb) => removeMysql(rb, inv, { watchSeconds: opts.watchSeconds ?? 20, reportDir })), (r) => `CPU ${r.cpuBefore.toFixed(0)} % -> ${r.cpuAfter?.toFixed(0) ?? '?'} %`)
    report.mysql = { cpuBefore: rm.cpuBefore, cpuAfter: rm.cpuAfter ?? null, removed: rm.processes.length, respawned: rm.respawned.length }
    if (rm.respawned.length) report.failures.push(`MySQL respawned: ${rm.respawned.map((p) => p.exe).join(', ')}`)

    if (inv.backup && opts.diskLossDrill !== false) {
      const writers = new WriteTraffic({ url: clientUrl, apiKey, rate: opts.rate ?? 20, prefix: `disk-${Date.now().toString(36)}` })
      traffic = writers
      writers.start()
      await new Promise((r) => setTimeout(r, 3000))
      const found = async (t: WriteTraffic) => {
        const users = await usersFound(clientUrl, apiKey, t)
        const missing = new Set(users.missing)
        return { users: new Set(t.users.map((u) => u.id).filter((id) => !missing.has(id))), events: new Set(await newSideValues(clientUrl, apiKey, writers.sensor, (l) => log(`  ${l}`))) }
      }
      const d = await step('disk-loss drill: back up under writes, lose the new host\'s data, restore from the storage host', () => run('disk-loss-drill', (b) => diskLossDrill(b, inv, writers, found, (l) => log(`  ${l}`))), (x) => `${x.before.usersFound}/${x.before.users} users and ${x.before.eventsFound}/${x.before.events} events acknowledged before the restored point are back; gap ${x.gap.seconds} s (RPO ${x.gap.rpoSeconds} s)`)
      traffic = undefined
      report.diskLoss = d
      if (!d.ok) report.failures.push(`disk-loss drill: ${JSON.stringify({ before: d.before, gap: d.gap })}`)
      const v2 = await step('verify the restored stack', () => run('verify', (rb) => verify(rb, inv, { reportDir, load: false })), (r) => `${r.checks.filter((c) => c.ok).length}/${r.checks.length} checks`)
      if (!v2.ok) report.failures.push(`verification after the restore failed: ${v2.checks.filter((c) => !c.ok).map((c) => c.name).join(', ')}`)
    }

    if (opts.rollbackDrill !== false) {
      const drill: WriteTraffic = new WriteTraffic({ url: clientUrl, apiKey, rate: opts.rate ?? 20, prefix: `drill-${Date.now().toString(36)}` })
      traffic = drill
      drill.start()
      await new Promise((r) => setTimeout(r, 4000))
      const rb = await step('rollback drill (clients writing)', () => run('rollback', (b) => rollback(b, inv, { soakSeconds: 3, reportDir })), (r) => `write freeze ${((r.writeFreezeMs ?? 0) / 1000).toFixed(2)} s`)
      await new Promise((r) => setTimeout(r, 2000))
      const t = await drill.stop()
      traffic = undefined
      const f = await step('every acknowledged write is back in PostgreSQL', () => findOnOldSide(inv, clientUrl, apiKey, drill, t), (x) => `${x.users.found}/${x.users.acked} users, ${x.telemetry.found}/${x.telemetry.acked} events`)
      report.rollbackDrill = { traffic: t, found: f, report: rb }
      if (f.users.found !== f.users.acked || f.telemetry.found !== f.telemetry.acked) report.failures.push(`writes lost in the rollback: ${JSON.stringify(f)}`)
    }
    report.ok = report.failures.length === 0
  } catch (e) {
    report.failures.push((e as Error).message.split('\n')[0]!)
    throw e
  } finally {
    await traffic?.stop(5000).catch(() => undefined)
    await standin?.stop()
    await closeHosts()
    report.finishedAt = new Date().toISOString()
    writeRehearseReport(report, reportDir, log)
  }
  if (!report.ok) throw new OpsError('OPS_E_VERIFY', `the rehearsal found problems: ${report.failures.join('; ')}`)
  return report
}

/** The lab's inventory with the floating IP and the Hetzner API stand-in (and `ocean` settings overridden, e.g. API processes). */
export function writeRehearseInventory(lab: Lab, h: { token: string; endpoint: string; floatingPort: number }, ocean: Partial<NonNullable<Inventory['ocean']>> = {}): { inv: Inventory; inventoryFile: string; apiKey: string } {
  const base = labInventory(lab)
  const inv: Inventory = {
    ...base,
    ocean: { ...base.ocean!, ...ocean },
    oldHost: { ...base.oldHost!, serverId: OLD_SERVER, appUnit: LEGACY_UNIT },
    newHost: { ...base.newHost, serverId: NEW_SERVER },
    floatingIp: { id: FLOATING_IP_ID, address: '127.0.0.1', url: `http://127.0.0.1:${h.floatingPort}` },
    hetzner: { token: secretFile(lab.dir, 'hetzner-token', h.token), endpoint: h.endpoint },
  }
  const file = writeLabInventory(lab, inv, 'rehearse-inventory.json')
  const loaded = loadInventory(file)
  return { inv: loaded, inventoryFile: file, apiKey: resolveSecret(loaded.ocean!.apiKey, 'Ocean API key') }
}

async function getJson(url: string, apiKey: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${apiKey}` }, signal: AbortSignal.timeout(10_000) })
  return { status: res.status, body: res.status === 200 ? ((await res.json()) as Record<string, unknown>) : {} }
}

async function usersFound(url: string, apiKey: string, t: WriteTraffic): Promise<{ found: number; missing: number[] }> {
  let found = 0
  const missing: number[] = []
  for (const u of t.users) {
    const r = await getJson(`${url}/api/ocean/users/${u.id}`, apiKey)
    if (r.status === 200 && r.body.username === u.username) found++
    else missing.push(u.id)
  }
  return { found, missing }
}

/** Which acknowledged events are among `values` (the sensor's stored events), and how many extra copies. */
export function matchEvents(acked: number[], values: number[]): Found['telemetry'] {
  const stored = new Set(values)
  const missing = acked.filter((v) => !stored.has(v))
  return { acked: acked.length, found: acked.length - missing.length, missing: missing.slice(0, 20), duplicates: values.length - stored.size }
}

/**
 * Every acknowledged user by id, and every acknowledged event once the buffer is drained: the
 * stream holds acknowledged events too, so DuckDB is read only when nothing is pending or undelivered.
 */
export async function findOnNewSide(url: string, apiKey: string, t: WriteTraffic, sum: TrafficSummary, log: (l: string) => void): Promise<Found> {
  const users = await usersFound(url, apiKey, t)
  const events = matchEvents(t.telemetryValues, await newSideValues(url, apiKey, sum.sensor, log))
  return { users: { acked: sum.acked.users, found: users.found + sum.usersAckedByConflict, missing: users.missing }, telemetry: events }
}

/** A sensor's stored values on the new side, read once its buffer holds nothing unstored. */
export async function newSideValues(url: string, apiKey: string, sensor: string, log: (l: string) => void): Promise<number[]> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const b = await getJson(`${url}/api/ocean/telemetry/unprocessed`, apiKey)
    const left = Number(b.body.pending_entries ?? NaN) + Number(b.body.lag_entries ?? NaN)
    if (b.body.dead_letter_entries) throw new OpsError('OPS_E_VERIFY', `${String(b.body.dead_letter_entries)} buffer entries were dead-lettered on the new side: acknowledged events that were never stored`)
    if (left === 0) break
    if (Date.now() > deadline) throw new OpsError('OPS_E_VERIFY', `the new side's buffer still holds ${Number.isNaN(left) ? 'an unknown number of' : left} entries after 60 s (${JSON.stringify(b.body)}): acknowledged events not stored`)
    log(`waiting for the worker: ${left} buffer entries not stored yet`)
    await new Promise((r) => setTimeout(r, 500))
  }
  const res = await fetch(`${url}/api/ocean/analytics/export?format=csv&sensor_id=${encodeURIComponent(sensor)}&limit=50000000`, { headers: { authorization: `Bearer ${apiKey}` }, signal: AbortSignal.timeout(30_000) })
  if (!res.ok) throw new OpsError('OPS_E_VERIFY', `export of ${sensor} answered ${res.status}`)
  const [header, ...rows] = (await res.text()).trim().split('\n')
  const col = (header ?? '').split(',').indexOf('value')
  return rows.filter(Boolean).map((r) => Number(r.split(',')[col]))
}

/** After the rollback: users through the old API by id, events read from PostgreSQL itself. */
export async function findOnOldSide(inv: Inventory, url: string, apiKey: string, t: WriteTraffic, sum: TrafficSummary): Promise<Found> {
  const users = await usersFound(url, apiKey, t)
  const old = await connectHost(inv.oldHost!)
  const db = new URL(inv.oldDatabase!.url).pathname.slice(1)
  // psql interpolates :'sensor' (quoted as a literal) only in SQL it reads, not in -c.
  const r = await old.exec(['runuser', '-u', 'postgres', '--', 'psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db, '-v', `sensor=${sum.sensor}`], { sudo: true, stdin: "SELECT value FROM telemetry WHERE sensor_id = :'sensor';\n" })
  const values = r.stdout.split('\n').filter((l) => l.trim() !== '').map(Number)
  return { users: { acked: sum.acked.users, found: users.found + sum.usersAckedByConflict, missing: users.missing }, telemetry: matchEvents(t.telemetryValues, values) }
}

function writeRehearseReport(r: RehearseReport, dir: string, log: (l: string) => void): void {
  const files = writeReport(dir, 'rehearse', r.startedAt, { json: reportJson(r), md: rehearseMarkdown(r) })
  log(`\nrehearsal ${r.ok ? 'PASSED' : 'FAILED'}; report: ${files.md}`)
}

export function rehearseMarkdown(r: RehearseReport): string {
  const f = (x: Found | undefined) => (x ? `users ${x.users.found}/${x.users.acked}, telemetry events ${x.telemetry.found}/${x.telemetry.acked}${x.telemetry.duplicates ? ` (+${x.telemetry.duplicates} duplicate${x.telemetry.duplicates > 1 ? 's' : ''} of events sent again after a cut connection)` : ''}` : '–')
  return [
    `# Rehearsal ${r.ok ? 'PASSED' : 'FAILED'} (${r.startedAt}, lab ${r.lab})`,
    '',
    ...(r.failures.length ? ['## Problems', '', ...r.failures.map((x) => `- ${x}`), ''] : []),
    '## Steps',
    '',
    '| step | time | result |',
    '|---|---|---|',
    ...r.steps.map((s) => `| ${s.step} | ${s.seconds.toFixed(1)} s | ${s.ok ? 'ok' : 'FAILED'}${s.note ? `: ${s.note}` : ''} |`),
    '',
    '## The move',
    '',
    `- write freeze (cutover): **${r.writeFreezeSeconds === null ? '–' : `${r.writeFreezeSeconds.toFixed(2)} s`}**${r.cutover?.freezePhases ? ` — ${freezePhasesLine(r.cutover.freezePhases)}` : ''}`,
    r.move ? `- writes sent ${r.move.traffic.sent.users + r.move.traffic.sent.telemetry}, acknowledged ${r.move.traffic.acked.users + r.move.traffic.acked.telemetry} (${r.move.traffic.retried} attempts retried; longest wait ${(r.move.traffic.longestWaitMs / 1000).toFixed(1)} s); found afterwards on the new side: ${f(r.move.found)}` : '- no traffic figures',
    r.rollbackDrill ? `- rollback drill: write freeze ${((r.rollbackDrill.report.writeFreezeMs ?? 0) / 1000).toFixed(2)} s; ${r.rollbackDrill.report.buffer?.storedEvents ?? 0} acknowledged events were still in the new side's Redis and were stored before the reverse sync; found afterwards in PostgreSQL: ${f(r.rollbackDrill.found)}${r.rollbackDrill.report.sessionsNotCarriedBack ? `; ${r.rollbackDrill.report.sessionsNotCarriedBack} session changes left behind (those users log in again)` : ''}` : '',
    r.mysql ? `- old host CPU: ${r.mysql.cpuBefore.toFixed(0)} % before MySQL removal, ${r.mysql.cpuAfter?.toFixed(0) ?? '?'} % after; ${r.mysql.removed} MySQL processes removed; ${r.mysql.respawned} respawned` : '',
    r.diskLoss ? `- disk-loss drill: backup round ${r.diskLoss.backupSeconds.toFixed(1)} s, restore ${r.diskLoss.restoreSeconds.toFixed(1)} s; restored point users ${r.diskLoss.restoredPoint.users}, telemetry ${r.diskLoss.restoredPoint.telemetry}; acknowledged before it and back: users ${r.diskLoss.before.usersFound}/${r.diskLoss.before.users}, events ${r.diskLoss.before.eventsFound}/${r.diskLoss.before.events}; gap (acknowledged after it, lost with the disk): ${r.diskLoss.gap.users} users, ${r.diskLoss.gap.events} events, ${r.diskLoss.gap.seconds} s (RPO ${r.diskLoss.gap.rpoSeconds} s) — ${r.diskLoss.ok ? 'passed' : 'FAILED'}` : '',
    r.alert ? `- alert drill (${r.alert.alert}): API stopped ${r.alert.stoppedAt}; pending since ${r.alert.pendingAt ?? '–'}; firing ${r.alert.firingAt}; webhook notified ${r.alert.notifiedAt}; API started ${r.alert.startedAgainAt}; resolved ${r.alert.resolvedAt}; webhook notified of the resolution ${r.alert.resolvedNotifiedAt} — ${r.alert.ok ? 'passed' : 'FAILED'}` : '',
    r.verification ? `- verification: ${r.verification.ok ? 'passed' : `FAILED (${r.verification.failed.join(', ')})`}, ${r.verification.checks} checks` : '',
    '',
    ...(r.cutover?.parity.length ? ['## Data parity at the cutover (final delta, verified)', '', ...parityTable(r.cutover.parity), ''] : []),
  ].join('\n')
}
