// `ocean-ops status`: one screen, fast. Where the floating IP points, whether each host answers
// over SSH, the deployed release and the previous one, the last run of each runbook, the API's
// readiness and buffer backlog, Prometheus's alerts and the backups' age, all asked at once, each
// within its own bound. Read-only: no runbook frame, so no lock and no run in the journal.
import type Docker from 'dockerode'
import { OpsError } from '@ocean-ops/common'
import { readBackupStatus } from './backup.ts'
import { clientUrl } from './verify.ts'
import { inspectContainer } from './lib/deploy/docker-ops.ts'
import { stackNames } from './lib/deploy/stack-spec.ts'
import { HetznerClient } from './lib/hetzner/hetzner-client.ts'
import { dockerOn } from './lib/host/docker-over-ssh.ts'
import { SshHost } from './lib/host/ssh-host.ts'
import { resolveSecret, type HostEntry, type Inventory } from './lib/inventory.ts'
import { firingAlerts } from './lib/monitoring/prometheus-alerts.ts'
import { within } from './lib/status/deadline.ts'
import { lastRuns } from './lib/status/last-runs.ts'
import * as M from './lib/status/status-model.ts'
import { redactSecrets, shownUrl } from './lib/status/status-report.ts'

export interface StatusOptions {
  journalPath: string
  /** The bound on each item (default 5 s): an unreachable host costs this, never more. */
  timeoutMs?: number
  /** The backups' bound (default 30 s): they are read by restic, in a one-off container, from the repository. */
  backupTimeoutMs?: number
  now?: () => Date
}

export const DEFAULT_TIMEOUT_MS = 5000
export const DEFAULT_BACKUP_TIMEOUT_MS = 30_000

/** The URL clients use: the inventory's ocean.url, else the floating IP's URL, else verify's default. */
export function statusUrl(inv: Inventory): string {
  return (inv.ocean?.url ?? inv.floatingIp?.url ?? clientUrl(inv)).replace(/\/+$/, '')
}

interface Reached {
  host: SshHost
  connectMs: number
  rttMs: number
}

const targetOf = (h: HostEntry) => `${h.user}@${h.address}:${h.port}`
const noop = () => undefined

/** A fresh SSH connection (host key pinned, one attempt, bounded) and one command's round trip over it. */
async function reach(h: HostEntry, ms: number): Promise<Reached> {
  const t0 = performance.now()
  const host = await SshHost.connect({ host: h.address, port: h.port, user: h.user, identityFile: h.identityFile, knownHostsFile: h.knownHostsFile, knownHostsText: h.knownHosts, readyTimeoutMs: ms, connectAttempts: 1 })
  const connectMs = performance.now() - t0
  try {
    const t1 = performance.now()
    await host.exec(['true'], { timeoutMs: ms })
    return { host, connectMs, rttMs: performance.now() - t1 }
  } catch (e) {
    await host.close()
    throw e
  }
}

/** Docker on the new host, checked to answer; when it does not, the host's own words say why. */
async function openDocker(host: SshHost, ms: number): Promise<Docker> {
  const docker = await dockerOn(host)
  try {
    await docker.ping()
    return docker
  } catch (e) {
    const r = await host.exec(['docker', 'version', '--format', '{{.Server.Version}}'], { allowFail: true, timeoutMs: ms }).catch(() => undefined)
    const said = r?.stderr.trim().split('\n').at(-1)
    throw new OpsError('OPS_E_REMOTE', `Docker on the new host does not answer: ${said || (e as Error).message}`)
  }
}

function serverIdOf(h: HostEntry | undefined): number | undefined {
  return typeof h?.serverId === 'number' ? h.serverId : undefined
}

/** fetch's own message is "fetch failed"; the reason is in its cause. */
function fetchError(e: unknown): Error {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause
  return cause ? new Error(`${(e as Error).message}: ${cause.code ?? cause.message}`) : (e as Error)
}

async function floatingIp(inv: Inventory, ms: number, secrets: string[]): Promise<M.FloatingIpItem[]> {
  const fip = inv.floatingIp
  if (!fip) return [M.notConfigured<M.FloatingIpItem>({ label: 'floating IP', reason: 'none in the inventory' })]
  if (!inv.hetzner) return [M.notConfigured<M.FloatingIpItem>({ label: fip.address, id: fip.id, address: fip.address, reason: 'no hetzner section in the inventory: where it points cannot be asked' })]
  try {
    const token = resolveSecret(inv.hetzner.token, 'the Hetzner API token')
    secrets.push(token)
    const ip = await within(ms, (signal) => {
      const fetchImpl: typeof fetch = (input, init) => fetch(input, { ...init, signal: AbortSignal.any([signal, ...(init?.signal ? [init.signal] : [])]) })
      return new HetznerClient({ token, endpoint: inv.hetzner!.endpoint, attempts: 2, fetchImpl }).getFloatingIp(fip.id)
    })
    return [M.floatingIpItem(fip, ip.server, { newServerId: serverIdOf(inv.newHost), oldServerId: serverIdOf(inv.oldHost) })]
  } catch (e) {
    return [M.floatingIpFailed(fip, e)]
  }
}

async function service(inv: Inventory, url: string, ms: number, now: Date, secrets: string[]): Promise<M.ServiceItem[]> {
  const shown = shownUrl(url)
  const get = (path: string, signal: AbortSignal, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, { headers, signal }).then(async (r) => ({ status: r.status, body: (await r.json().catch(() => null)) as unknown }), (e) => Promise.reject(fetchError(e)))
  const ready = within(ms, async (signal) => {
    const r = await get('/ready', signal)
    return M.readyItem(shown, r.status, r.body)
  }).catch((e) => M.serviceFailed('ready', shown, e))
  let key: string | undefined
  let why = ''
  try {
    key = resolveSecret(inv.ocean?.apiKey, 'the Ocean API key')
    secrets.push(key)
  } catch (e) {
    why = (e as Error).message
  }
  const backlog = key
    ? within(ms, async (signal) => {
      const r = await get('/api/ocean/status', signal, { authorization: `Bearer ${key}` })
      return M.backlogItem(shown, r.status, r.body, now)
    }).catch((e) => M.serviceFailed('backlog', shown, e))
    : Promise.resolve(M.backlogSkipped(shown, `not read: ${why}`))
  return Promise.all([ready, backlog])
}

function journal(path: string, now: Date): M.RunItem[] {
  try {
    const runs = lastRuns(path, now.getTime())
    if (!runs) return [M.noRuns(path, 'no journal: no runbook has run from here')]
    if (runs.length === 0) return [M.noRuns(path, 'no runs in the journal yet')]
    return runs.map((r) => M.runItem(r, now))
  } catch (e) {
    return [M.journalFailed(path, e)]
  }
}

/** Everything at once, each item within its bound; the model holds no secret. */
export async function gatherStatus(inv: Inventory, o: StatusOptions): Promise<M.StatusModel> {
  const ms = o.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const at = o.now?.() ?? new Date()
  const t0 = performance.now()
  const stack = inv.ocean?.stack ?? 'ocean'
  const names = stackNames(stack)
  const secrets: string[] = []

  const newReach = reach(inv.newHost, ms)
  const oldReach = inv.oldHost ? reach(inv.oldHost, ms) : undefined
  const docker = newReach.then((r) => openDocker(r.host, ms))
  docker.catch(noop) // every user of it handles its failure; this keeps an early one from being unhandled
  const hostItem = (role: M.HostItem['role'], h: HostEntry, p: Promise<Reached>) =>
    within(ms, () => p).then((r) => M.hostReached(role, targetOf(h), r.connectMs, r.rttMs), (e) => M.hostUnreachable(role, targetOf(h), e))

  const hosts = Promise.all([hostItem('new', inv.newHost, newReach), ...(inv.oldHost && oldReach ? [hostItem('old', inv.oldHost, oldReach)] : [])])
  const releases = within(ms, async () => {
    const d = await docker
    const [current, previous] = await Promise.all([inspectContainer(d, names.ocean), inspectContainer(d, names.oceanPrevious)])
    return [M.releaseItem('current', names.ocean, current, at), M.releaseItem('previous', names.oceanPrevious, previous, at)]
  }).catch((e) => M.releasesUnavailable({ current: names.ocean, previous: names.oceanPrevious }, e))
  const alerts = within(ms, async () => M.alertItems(await firingAlerts(await docker, stack), at)).catch(M.alertsUnavailable)
  // The backup tool runs in a container it removes when done: its connection stays until then.
  const backupWork = inv.backup ? docker.then((d) => readBackupStatus(d, inv)) : undefined
  const backup = backupWork
    ? within(o.backupTimeoutMs ?? DEFAULT_BACKUP_TIMEOUT_MS, () => backupWork).then((s) => M.backupItems(s, at), M.backupFailed)
    : Promise.resolve([M.notConfigured<M.BackupItem>({ what: 'backup', label: 'backups', reason: 'not configured (no backup section in the inventory)' })])

  const [fip, hostItems, releaseItems, serviceItems, alertItems, backupItems] = await Promise.all([floatingIp(inv, ms, secrets), hosts, releases, service(inv, statusUrl(inv), ms, at, secrets), alerts, backup])
  const sections = { floatingIp: fip, hosts: hostItems, releases: releaseItems, journal: journal(o.journalPath, at), service: serviceItems, alerts: alertItems, backup: backupItems }
  void Promise.allSettled([backupWork]).then(() => {
    for (const c of [newReach, oldReach]) c?.then((r) => r.host.close(), noop)
  })
  return redactSecrets(M.finish(at, stack, performance.now() - t0, sections), secrets)
}
