// What `ocean-ops status` found, as data: one item per thing checked, each ok / warn / fail (or
// skip: not configured here) with a short reason and, when something is wrong, what to do. The
// functions below turn raw answers (Hetzner, Docker, the journal, the API, Prometheus, the backup
// tool) into items; they are pure, so every verdict is unit-tested without a host.
import type { PrometheusAlert } from '../monitoring/prometheus-alerts.ts'

export type Level = 'ok' | 'warn' | 'fail' | 'skip'

export interface Item {
  /** What was checked, as the screen names it. */
  label: string
  level: Level
  /** What was found, in a few words. */
  reason: string
  /** What to do next, when something is wrong. */
  todo?: string
}

export interface FloatingIpItem extends Item {
  id?: number
  address?: string
  serverId?: number | null
  pointsTo?: 'new' | 'old' | 'other' | 'unassigned' | 'unknown'
}

export interface HostItem extends Item {
  role: 'new' | 'old'
  target: string
  connectMs?: number
  rttMs?: number
}

export interface ReleaseItem extends Item {
  role: 'current' | 'previous'
  container: string
  image?: string
  imageId?: string
  created?: string
  startedAt?: string
  state?: string
  health?: string
}

export interface RunItem extends Item {
  runbook?: string
  runId?: string
  startedAt?: string
  endedAt?: string | null
  result?: string
}

export interface ServiceItem extends Item {
  check: 'ready' | 'backlog'
  url: string
  httpStatus?: number
  version?: string
  backlog?: Backlog
}

export interface Backlog {
  events: number
  pendingEntries: number
  lagEntries: number
  deadLetterEntries: number
  oldestUnprocessedAt: string | null
}

export interface AlertItem extends Item {
  monitoring: 'deployed' | 'not deployed' | 'unavailable'
  alert?: PrometheusAlert
}

export interface BackupItem extends Item {
  what: 'users' | 'telemetry' | 'drill' | 'backup'
  time?: string
  ageSeconds?: number
  rpoSeconds?: number
}

export interface StatusModel {
  at: string
  stack: string
  tookMs: number
  /** fail when any item failed (the command exits 1), warn when any warned, else ok. */
  verdict: Exclude<Level, 'skip'>
  /** `label: reason` of every failed item. */
  problems: string[]
  floatingIp: FloatingIpItem[]
  hosts: HostItem[]
  releases: ReleaseItem[]
  journal: RunItem[]
  service: ServiceItem[]
  alerts: AlertItem[]
  backup: BackupItem[]
}

export type Sections = Omit<StatusModel, 'at' | 'stack' | 'tookMs' | 'verdict' | 'problems'>

export const SECTION_TITLES: Record<keyof Sections, string> = {
  floatingIp: 'floating IP',
  hosts: 'hosts',
  releases: 'releases',
  journal: 'last runs',
  service: 'service',
  alerts: 'alerts',
  backup: 'backup',
}

/** Buffered events older than this: the worker is behind (warn); older than the second: it is not storing (fail). */
export const BACKLOG_WARN_SECONDS = 60
export const BACKLOG_FAIL_SECONDS = 600

const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

export function verdictOf(sections: Sections): StatusModel['verdict'] {
  const all = Object.values(sections).flat() as Item[]
  return all.some((i) => i.level === 'fail') ? 'fail' : all.some((i) => i.level === 'warn') ? 'warn' : 'ok'
}

export function finish(at: Date, stack: string, tookMs: number, sections: Sections): StatusModel {
  const all = Object.values(sections).flat() as Item[]
  return { at: at.toISOString(), stack, tookMs: Math.round(tookMs), verdict: verdictOf(sections), problems: all.filter((i) => i.level === 'fail').map((i) => `${i.label}: ${i.reason}`), ...sections }
}

/** `2026-12-05 18:09:36Z`, and how long ago when `now` is given. */
export function when(iso: string | null | undefined, now?: Date): string {
  if (!iso) return '?'
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return iso
  const shown = `${new Date(t).toISOString().slice(0, 19).replace('T', ' ')}Z`
  return now ? `${shown} (${ago((now.getTime() - t) / 1000)})` : shown
}

export function ago(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : s < 172_800 ? `${Math.round(s / 3600)} h ago` : `${Math.round(s / 86400)} d ago`
}

// --- floating IP --------------------------------------------------------------------------------

export function floatingIpItem(fip: { id: number; address: string }, assigned: number | null, ids: { newServerId?: number; oldServerId?: number }): FloatingIpItem {
  const base = { label: fip.address, id: fip.id, address: fip.address, serverId: assigned }
  if (assigned === null) return { ...base, level: 'fail', pointsTo: 'unassigned', reason: 'assigned to no server: clients reach nothing', todo: 'assign it to the new host (`ocean-ops cutover`) or back to the old one (`ocean-ops rollback`)' }
  if (assigned === ids.newServerId) return { ...base, level: 'ok', pointsTo: 'new', reason: `on the new host (server ${assigned})` }
  if (assigned === ids.oldServerId) return { ...base, level: 'warn', pointsTo: 'old', reason: `on the old host (server ${assigned}): clients still use the old system (before the cutover, or after a rollback)`, todo: '`ocean-ops cutover` once the new side is verified' }
  if (ids.newServerId === undefined) return { ...base, level: 'warn', pointsTo: 'unknown', reason: `on server ${assigned}; the inventory gives newHost no serverId to compare with`, todo: 'add newHost.serverId (and oldHost.serverId): `ocean-ops inventory --from-pulumi`' }
  return { ...base, level: 'fail', pointsTo: 'other', reason: `on server ${assigned}: neither the new (${ids.newServerId}) nor the old host (${ids.oldServerId ?? '?'})`, todo: 'check the Hetzner console: who moved it? Then `ocean-ops cutover` or `ocean-ops rollback`' }
}

export function floatingIpFailed(fip: { id: number; address: string }, e: unknown): FloatingIpItem {
  return { label: fip.address, id: fip.id, address: fip.address, level: 'fail', pointsTo: 'unknown', reason: `Hetzner API: ${message(e)}`, todo: 'check the inventory\'s hetzner token and endpoint, and the Hetzner status page' }
}

// --- hosts --------------------------------------------------------------------------------------

export function hostReached(role: HostItem['role'], target: string, connectMs: number, rttMs: number): HostItem {
  return { role, target, label: `${role} ${target}`, level: 'ok', connectMs: Math.round(connectMs), rttMs: Math.round(rttMs * 10) / 10, reason: `reachable, host key pinned; round trip ${rttMs.toFixed(1)} ms (connect ${connectMs.toFixed(0)} ms)` }
}

export function hostUnreachable(role: HostItem['role'], target: string, e: unknown): HostItem {
  const code = (e as { code?: string }).code
  const todo =
    code === 'OPS_E_HOST_KEY' ? 'the host key is not the pinned one: find out why before trusting it'
      : code === 'OPS_E_SSH_AUTH' ? 'the host refused our key: check identityFile and the host\'s authorized_keys'
        : 'check the address, the firewall (adminCidrs) and that sshd runs there'
  // The SSH layer's message ends with advice; the item's todo carries it, so only its first sentence stays.
  const what = message(e).split(/\.\s+(?=[A-Z])/)[0]!.replace(/^cannot reach \S+: /, '')
  return { role, target, label: `${role} ${target}`, level: 'fail', reason: `unreachable: ${what}`, todo }
}

// --- releases -----------------------------------------------------------------------------------

/** The fields of `docker inspect` a release is judged on. */
export interface ContainerFacts {
  Created: string
  Image: string
  Config: { Image: string }
  State: { Status: string; Running: boolean; ExitCode?: number; StartedAt?: string; Health?: { Status: string } }
}

export function releaseItem(role: ReleaseItem['role'], container: string, info: ContainerFacts | undefined, now: Date): ReleaseItem {
  if (!info) {
    return role === 'current'
      ? { role, container, label: container, level: 'fail', reason: 'no such container: nothing is deployed', todo: '`ocean-ops deploy`' }
      : { role, container, label: container, level: 'skip', reason: 'none kept (the first release): nothing to roll back to' }
  }
  const facts = { role, container, label: container, image: info.Config.Image, imageId: info.Image.replace(/^sha256:/, '').slice(0, 12), created: info.Created, startedAt: info.State.StartedAt, state: info.State.Status, health: info.State.Health?.Status }
  const what = `${info.Config.Image}, created ${when(info.Created, now)}`
  if (role === 'previous') return { ...facts, level: 'ok', reason: `${what}, ${info.State.Status} (\`ocean-ops deploy --rollback\` brings it back)` }
  if (!info.State.Running) return { ...facts, level: 'fail', reason: `${what}, ${info.State.Status}${info.State.ExitCode ? ` (exit ${info.State.ExitCode})` : ''}`, todo: `\`docker logs ${container}\` on the new host; \`ocean-ops deploy\` (or \`deploy --rollback\`)` }
  const health = info.State.Health?.Status
  const running = `${what}, running since ${when(info.State.StartedAt, now)}${health ? ` (${health})` : ''}`
  if (health === 'unhealthy') return { ...facts, level: 'fail', reason: running, todo: `\`docker inspect ${container}\` (health log) and \`docker logs ${container}\` on the new host` }
  if (health === 'starting') return { ...facts, level: 'warn', reason: running, todo: 'wait for its health check, then look again' }
  return { ...facts, level: 'ok', reason: running }
}

export function releasesUnavailable(names: { current: string; previous: string }, e: unknown): ReleaseItem[] {
  return [
    { role: 'current', container: names.current, label: names.current, level: 'fail', reason: `unavailable: ${message(e)}`, todo: 'check Docker on the new host (`docker ps` there)' },
    { role: 'previous', container: names.previous, label: names.previous, level: 'skip', reason: 'unavailable (see above)' },
  ]
}

// --- journal ------------------------------------------------------------------------------------

export interface RunFacts {
  run_id: string
  runbook: string
  started_at: string
  ended_at: string | null
  result: string
  error: string | null
  /** A `running` run whose lock is still held: it is running now, not interrupted. */
  lockHeld?: boolean
}

export function runItem(r: RunFacts, now: Date): RunItem {
  const facts = { label: r.runbook, runbook: r.runbook, runId: r.run_id, startedAt: r.started_at, endedAt: r.ended_at, result: r.result }
  const took = r.ended_at ? ` (${fmtSeconds((Date.parse(r.ended_at) - Date.parse(r.started_at)) / 1000)})` : ''
  const id = `; run ${r.run_id}`
  if (r.result === 'ok') return { ...facts, level: 'ok', reason: `ok, ended ${when(r.ended_at, now)}${took}${id}` }
  if (r.result === 'failed') return { ...facts, level: 'warn', reason: `FAILED ${when(r.ended_at, now)}${took}: ${r.error ?? 'no error recorded'}${id}`, todo: `fix what it says, then re-run it (\`--resume\` continues ${r.run_id})` }
  if (r.result === 'running' && r.lockHeld) return { ...facts, level: 'ok', reason: `running now, since ${when(r.started_at, now)}${id}` }
  if (r.result === 'running') return { ...facts, level: 'warn', reason: `interrupted: started ${when(r.started_at, now)}, never ended${id}`, todo: 're-run it with `--resume` to finish what it started' }
  return { ...facts, level: 'ok', reason: `${r.result}, ${when(r.ended_at ?? r.started_at, now)}${id}` }
}

export function noRuns(journalPath: string, why: string): RunItem {
  return { label: 'journal', level: 'skip', reason: `${why} (${journalPath})` }
}

export function journalFailed(journalPath: string, e: unknown): RunItem {
  return { label: 'journal', level: 'warn', reason: `${journalPath} cannot be read: ${message(e)}`, todo: 'pass the journal with --journal, or check the file' }
}

function fmtSeconds(s: number): string {
  return s < 120 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`
}

// --- service ------------------------------------------------------------------------------------

export function readyItem(url: string, status: number, body: unknown): ServiceItem {
  const checks = ((body as { checks?: Record<string, { ok: boolean; ms?: number; error?: string }> } | null)?.checks ?? {}) as Record<string, { ok: boolean; ms?: number; error?: string }>
  const failing = Object.entries(checks).filter(([, c]) => !c.ok)
  const base = { check: 'ready' as const, url, label: '/ready', httpStatus: status }
  if (status === 200 && failing.length === 0) return { ...base, level: 'ok', reason: `ready${Object.keys(checks).length ? ` (${Object.entries(checks).map(([k, c]) => `${k} ${c.ms ?? '?'} ms`).join(', ')})` : ''}` }
  const why = failing.length ? failing.map(([k, c]) => `${k}: ${c.error ?? 'failing'}`).join('; ') : `HTTP ${status}`
  return { ...base, level: 'fail', reason: `not ready: ${why}`, todo: '`ocean-ops verify --no-smoke` for the details; `docker logs` of the API on the new host' }
}

export function serviceFailed(check: ServiceItem['check'], url: string, e: unknown): ServiceItem {
  return { check, url, label: check === 'ready' ? '/ready' : 'buffer backlog', level: 'fail', reason: `unreachable: ${message(e)}`, todo: 'is the stack up (`docker ps` on the new host) and does the floating IP point at it?' }
}

/** The backlog from GET /api/ocean/status's `buffer` (snake_case as the service writes it). */
export function backlogItem(url: string, status: number, body: unknown, now: Date): ServiceItem {
  const base = { check: 'backlog' as const, url, label: 'buffer backlog', httpStatus: status }
  const b = body as { version?: string; buffer?: { events?: number; pending_entries?: number; lag_entries?: number; dead_letter_entries?: number; oldest_unprocessed_at?: string | null; error?: string } } | null
  if (status === 401) return { ...base, level: 'fail', reason: 'the API refused our key (401)', todo: 'the inventory\'s ocean.apiKey is not the deployed one: check it, or `ocean-ops deploy`' }
  if (status !== 200 || !b?.buffer) return { ...base, level: 'warn', reason: `GET /api/ocean/status answered ${status}${b?.buffer ? '' : ' without a buffer'}: not the Ocean service this toolkit deploys?`, todo: 'check the URL (inventory ocean.url / floatingIp.url)' }
  const version = b.version
  if (b.buffer.error) return { ...base, version, level: 'fail', reason: `the buffer cannot be read: ${b.buffer.error}`, todo: 'check Redis on the new host (`docker logs` of the stack\'s Redis)' }
  const backlog: Backlog = { events: b.buffer.events ?? 0, pendingEntries: b.buffer.pending_entries ?? 0, lagEntries: b.buffer.lag_entries ?? 0, deadLetterEntries: b.buffer.dead_letter_entries ?? 0, oldestUnprocessedAt: b.buffer.oldest_unprocessed_at ?? null }
  const age = backlog.oldestUnprocessedAt ? (now.getTime() - Date.parse(backlog.oldestUnprocessedAt)) / 1000 : 0
  const dead = backlog.deadLetterEntries ? `; ${backlog.deadLetterEntries} entries dead-lettered` : ''
  const item = { ...base, version, backlog }
  if (backlog.events === 0 && backlog.lagEntries === 0 && backlog.pendingEntries === 0) {
    return { ...item, level: dead ? 'warn' : 'ok', reason: `empty: every accepted event is stored${dead}${version ? ` (service ${version})` : ''}`, ...(dead ? { todo: 'the dead-letter stream holds events the worker could not store: read them before they are trimmed' } : {}) }
  }
  const what = `${backlog.events} events waiting (${backlog.lagEntries} undelivered, ${backlog.pendingEntries} unacknowledged entries), oldest ${backlog.oldestUnprocessedAt ? ago(age) : '?'}${dead}`
  if (age > BACKLOG_FAIL_SECONDS) return { ...item, level: 'fail', reason: `${what}: the worker is not storing`, todo: 'check the engine (`docker logs` of the API: ingest worker, DuckDB); nothing is lost while Redis holds it' }
  if (age > BACKLOG_WARN_SECONDS || dead) return { ...item, level: 'warn', reason: `${what}: the worker is behind`, todo: 'watch it for a minute; if it grows, check the engine\'s logs' }
  return { ...item, level: 'ok', reason: `${what}: being stored` }
}

export function backlogSkipped(url: string, why: string): ServiceItem {
  return { check: 'backlog', url, label: 'buffer backlog', level: 'skip', reason: why }
}

// --- alerts -------------------------------------------------------------------------------------

export function alertItems(reading: { deployed: boolean; alerts: PrometheusAlert[] }, now: Date): AlertItem[] {
  if (!reading.deployed) return [{ label: 'monitoring', monitoring: 'not deployed', level: 'warn', reason: 'monitoring not deployed: nothing watches the stack', todo: 'deploy the monitoring stack (Prometheus beside the stack) to get alerts' }]
  if (reading.alerts.length === 0) return [{ label: 'Prometheus', monitoring: 'deployed', level: 'ok', reason: 'no alert firing or pending' }]
  return reading.alerts.map((a) => ({
    label: a.name,
    monitoring: 'deployed' as const,
    alert: a,
    level: a.state === 'firing' ? ('fail' as const) : ('warn' as const),
    reason: `${a.state} (${a.severity}) since ${when(a.activeAt, now)}${a.summary ? `: ${a.summary}` : ''}`,
    ...(a.state === 'firing' ? { todo: `see the alert's runbook note; the rule is in the monitoring rules (${a.name})` } : {}),
  }))
}

export function alertsUnavailable(e: unknown): AlertItem[] {
  return [{ label: 'Prometheus', monitoring: 'unavailable', level: 'fail', reason: `alerts unavailable: ${message(e)}`, todo: 'check Docker and the Prometheus container on the new host' }]
}

// --- backup -------------------------------------------------------------------------------------

interface Newest {
  time: string
  ageSeconds: number
  rpoSeconds: number
  ok: boolean
}

/** What `backup status` reports (runbooks/backup.ts BackupStatus), the parts judged here. */
export interface BackupFacts {
  repository: string
  newest: { sqlite: Newest | null; duckdb: Newest | null }
  agent: { lastError?: { at: string; message: string } | null } | null
  lastDrill: { at: string; ok: boolean; problems: string[] } | null
}

export function backupItems(s: BackupFacts, now: Date): BackupItem[] {
  const agentError = s.agent?.lastError ? `; the agent's last error (${when(s.agent.lastError.at)}): ${s.agent.lastError.message}` : ''
  const one = (what: 'users' | 'telemetry', label: string, n: Newest | null): BackupItem => {
    if (!n) return { what, label, level: 'fail', reason: `no backup yet in ${s.repository}${agentError}`, todo: '`ocean-ops backup now`; check the backup container on the new host' }
    const facts = { what, label, time: n.time, ageSeconds: n.ageSeconds, rpoSeconds: n.rpoSeconds }
    const age = `newest ${ago(n.ageSeconds)} (RPO ${n.rpoSeconds} s)`
    return n.ok ? { ...facts, level: 'ok', reason: age } : { ...facts, level: 'fail', reason: `STALE: ${age}${agentError}`, todo: '`ocean-ops backup status` for the details; `docker logs` of the backup container; `ocean-ops backup now`' }
  }
  const d = s.lastDrill
  const drill: BackupItem = !d
    ? { what: 'drill', label: 'restore drill', level: 'warn', reason: 'never drilled: a backup is only as good as its last restore', todo: '`ocean-ops backup drill`' }
    : d.ok
      ? { what: 'drill', label: 'restore drill', time: d.at, level: 'ok', reason: `passed ${when(d.at, now)}` }
      : { what: 'drill', label: 'restore drill', time: d.at, level: 'fail', reason: `FAILED ${when(d.at, now)}: ${d.problems.join('; ')}`, todo: 'read the drill report, fix, then `ocean-ops backup drill` again' }
  return [one('users', 'users (SQLite)', s.newest.sqlite), one('telemetry', 'telemetry (DuckDB)', s.newest.duckdb), drill]
}

export function backupFailed(e: unknown): BackupItem[] {
  return [{ what: 'backup', label: 'backups', level: 'fail', reason: `unavailable: ${message(e)}`, todo: '`ocean-ops backup status` for the details' }]
}

export function notConfigured<T extends Item>(item: Omit<T, 'level'>): T {
  return { ...item, level: 'skip' } as T
}
