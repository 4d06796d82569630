// What the cutover and the rollback do to each side, shared by both runbooks: the hosts and
// engines they hold for a run, freezing and unfreezing each side, syncing, moving the floating IP
// and checking the address clients use.
import type Docker from 'dockerode'
import { stackNames } from '../deploy/stack-spec.ts'
import { connectHost } from '../host/connect.ts'
import { dockerOn } from '../host/docker-over-ssh.ts'
import type { SshHost } from '../host/ssh-host.ts'
import { HetznerClient } from '../hetzner/hetzner-client.ts'
import { resolveSecret, type HostEntry, type Inventory } from '../inventory.ts'
import { migrateOnNewHost, waitReady, type OnNewHostResult } from '../migrate-remote/on-new-host.ts'
import type { Mode } from '@ocean-ops/migrate'
import { OpsError } from '@ocean-ops/common'
import type { BufferAccount } from '@ocean-ops/ocean/buffer/drain-result'
import { bufferProblem, drainNewBuffer } from '../migrate-remote/new-buffer.ts'
import { advanceSequencesArgv, captureChangesArgv, dbName, dropCaptureArgv, freezeDbArgv, unfreezeDbArgv, unitArgv, type OldDb } from './old-side.ts'

export interface Sides {
  inv: Inventory
  oldHost: SshHost
  newHost: SshHost
  docker: Docker
  hetzner: HetznerClient
  db: OldDb
  /** The old app's systemd unit on the old host (stopped during the freeze), if any. */
  appUnit?: string
  floatingIpId: number
  oldServerId: number
  newServerId: number
  /** The new API, reached directly (not through the floating IP). */
  newUrl: string
  /** What clients use: the floating IP. */
  clientUrl: string
}

function serverId(h: HostEntry | undefined, which: string): number {
  const id = h?.serverId
  if (typeof id !== 'number' || !Number.isInteger(id)) throw new OpsError('OPS_E_INVENTORY', `${which}.serverId is missing: the Hetzner server id the floating IP is assigned to (the Pulumi output for the new host; the Hetzner console for the old one)`)
  return id
}

/** Everything a cutover or rollback needs, checked before any step changes anything. */
export async function openSides(inv: Inventory): Promise<Sides> {
  if (!inv.oldHost) throw new OpsError('OPS_E_INVENTORY', 'the inventory has no oldHost')
  if (!inv.oldDatabase) throw new OpsError('OPS_E_INVENTORY', 'the inventory has no oldDatabase { url, password }')
  if (!inv.floatingIp) throw new OpsError('OPS_E_INVENTORY', 'the inventory has no floatingIp { id, address }: clients must reach the old system through it before the cutover can move them')
  if (!inv.hetzner) throw new OpsError('OPS_E_INVENTORY', 'the inventory has no hetzner { token }')
  const oldServerId = serverId(inv.oldHost, 'oldHost')
  const newServerId = serverId(inv.newHost, 'newHost')
  const hetzner = new HetznerClient({ token: resolveSecret(inv.hetzner.token, 'Hetzner API token'), endpoint: inv.hetzner.endpoint })
  const oldHost = await connectHost(inv.oldHost)
  const newHost = await connectHost(inv.newHost)
  const docker = await dockerOn(newHost)
  const fip = inv.floatingIp
  return {
    inv,
    oldHost,
    newHost,
    docker,
    hetzner,
    db: { database: dbName(inv.oldDatabase.url), user: decodeURIComponent(new URL(inv.oldDatabase.url).username) || undefined },
    appUnit: typeof inv.oldHost.appUnit === 'string' ? inv.oldHost.appUnit : undefined,
    floatingIpId: fip.id,
    oldServerId,
    newServerId,
    newUrl: inv.ocean?.url ?? `http://${inv.newHost.address}:${inv.oceanPort}`,
    clientUrl: fip.url ?? `http://${fip.address}:${inv.oceanPort}`,
  }
}

/** The old database's change log installed (idempotent); returns how many tables it covers. */
export async function captureChanges(s: Sides): Promise<number> {
  const out = (await s.oldHost.exec(captureChangesArgv(s.db), { sudo: true })).stdout.trim().split('\n')
  return Number(out[out.length - 1])
}

/** The change log removed: the old side serves again without its triggers (a next cutover installs it anew). */
export async function dropCapture(s: Sides): Promise<void> {
  await s.oldHost.exec(dropCaptureArgv(s.db), { sudo: true })
}

export async function freezeOld(s: Sides): Promise<void> {
  if (s.appUnit) await s.oldHost.exec(unitArgv('stop', s.appUnit), { sudo: true })
  await s.oldHost.exec(freezeDbArgv(s.db), { sudo: true })
}

/** Writes allowed again; the app is started only when `startApp` (the rollback starts it last). */
export async function unfreezeOldDb(s: Sides): Promise<void> {
  await s.oldHost.exec(unfreezeDbArgv(s.db), { sudo: true })
}

/** After a reverse sync: the old app's next ids come after the rows the new side made. */
export async function advanceSequences(s: Sides): Promise<void> {
  await s.oldHost.exec(advanceSequencesArgv(s.db), { sudo: true })
}

export async function startOldApp(s: Sides): Promise<void> {
  if (s.appUnit) await s.oldHost.exec(unitArgv('start', s.appUnit), { sudo: true })
}

/**
 * Stops the new API (a no-op when stopped). On SIGTERM it stops answering, then its worker stores
 * what the buffer holds (OCEAN_DRAIN_SECONDS, 20 s): the stop waits up to 30 s for that.
 */
export async function freezeNew(s: Sides): Promise<void> {
  const c = s.docker.getContainer(stackNames(s.inv.ocean?.stack ?? 'ocean').ocean)
  if ((await c.inspect()).State.Running) await c.stop({ t: STOP_SECONDS })
}

export const STOP_SECONDS = 30

export async function newApiStopped(s: Sides): Promise<boolean> {
  return !(await s.docker.getContainer(stackNames(s.inv.ocean?.stack ?? 'ocean').ocean).inspect()).State.Running
}

/** The new API serves again (after a rollback that stopped before moving traffic). */
export async function unfreezeNew(s: Sides): Promise<void> {
  const c = s.docker.getContainer(stackNames(s.inv.ocean?.stack ?? 'ocean').ocean)
  if (!(await c.inspect()).State.Running) await c.start()
  await waitReady(s.newUrl, 120_000)
}

/**
 * The new API stopped, and every event it acknowledged stored in DuckDB (what a dead engine left
 * too), so the reverse sync reads all of the new side's writes. Anything unaccounted for (the
 * buffer unreadable, entries dead-lettered) throws OPS_E_BUFFER_UNACCOUNTED, which says what and how
 * to go on; the caller then lets the new side serve again rather than move the clients away.
 */
export async function accountForNewBuffer(s: Sides, log: (line: string) => void): Promise<BufferAccount> {
  await freezeNew(s)
  const names = stackNames(s.inv.ocean?.stack ?? 'ocean')
  const a = await drainNewBuffer(s.docker, names, log).catch((e: Error) => {
    throw new OpsError('OPS_E_BUFFER_UNACCOUNTED', e.message)
  })
  log(`buffer: ${a.storedEvents} acknowledged events (${a.storedEntries} entries) were still in Redis and are now stored; ${a.drained ? 'nothing left' : `left from ${a.oldestUnstoredId}`}; ${a.deadLetter.count} dead-lettered`)
  const problem = bufferProblem(a, names)
  if (problem) throw new OpsError('OPS_E_BUFFER_UNACCOUNTED', problem)
  return a
}

export interface SyncOptions {
  keepApiStopped?: boolean
  live?: boolean
  only?: 'sqlite' | 'duckdb'
  bufferAccounted?: boolean
  /** The warm final sync: connected and planned before the freeze, waiting for it (`onReady` once it waits). */
  waitFreeze?: boolean
  onReady?: () => void
  signal?: AbortSignal
}

export async function syncOnNewHost(s: Sides, mode: Mode | Mode[], log: (line: string) => void, opts: SyncOptions = {}): Promise<OnNewHostResult> {
  const r = await migrateOnNewHost(s.inv, s.newHost, s.oldHost, s.docker, { mode, log, readyUrl: s.newUrl, ...opts })
  // A delta while the old side still takes writes cannot end equal: what arrived meanwhile is for the next one.
  if (!r.ok && opts.live && r.code === 'OPS_E_MIGRATE_MISMATCH') {
    log('    (writes arrived during this catch-up; the final delta, with writes frozen, takes them and must verify)')
    return r
  }
  if (!r.ok) throw new OpsError('OPS_E_MIGRATE_MISMATCH', r.message ?? `${[mode].flat().join(' + ')} did not verify: see the report in the new host's data volume (/data/.migrate/reports)`)
  return r
}

/** Assigns the floating IP to `serverId` and waits for Hetzner's action; no-op when it is there already. */
export async function moveFloatingIp(s: Sides, serverId: number): Promise<{ moved: boolean; ms: number }> {
  const t0 = performance.now()
  const fip = await s.hetzner.getFloatingIp(s.floatingIpId)
  if (fip.server === serverId) return { moved: false, ms: 0 }
  await s.hetzner.waitForAction(await s.hetzner.assignFloatingIp(s.floatingIpId, serverId), { intervalMs: 100 })
  return { moved: true, ms: performance.now() - t0 }
}

/**
 * Polls the client address (`probe`: /health, or /ready where every store must answer) for
 * `seconds`: it must keep answering from the expected side. Right
 * after a move the new side takes the clients' queued retries at once, so one slow probe is
 * allowed; three failures in a row, or an answer from the wrong side, fail the soak.
 */
export async function soak(url: string, seconds: number, expect: (body: Record<string, unknown>) => boolean, probe = '/health'): Promise<{ probes: number; failed: number; firstAnswerAt: number | null }> {
  const end = Date.now() + seconds * 1000
  let probes = 0
  let failed = 0
  let inARow = 0
  /** performance.now() when the expected side first answered. */
  let firstAnswerAt: number | null = null
  do {
    probes++
    let body: Record<string, unknown> | undefined
    let why = ''
    try {
      const res = await fetch(`${url}${probe}`, { signal: AbortSignal.timeout(5000) })
      if (res.ok) body = (await res.json()) as Record<string, unknown>
      else why = `HTTP ${res.status}`
    } catch (e) {
      why = (e as Error).message
    }
    if (body && !expect(body)) throw new OpsError('OPS_E_VERIFY', `${url}${probe} answered from the wrong side during the soak: ${JSON.stringify(body).slice(0, 200)}`)
    if (body) {
      inARow = 0
      firstAnswerAt ??= performance.now()
    } else {
      failed++
      if (++inARow >= 3) throw new OpsError('OPS_E_VERIFY', `${url}${probe} failed 3 times in a row during the soak (${probes} probes, last: ${why})`)
    }
    await new Promise((r) => setTimeout(r, 250))
  } while (Date.now() < end)
  return { probes, failed, firstAnswerAt }
}
