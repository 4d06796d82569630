// The rehearsal's disk-loss drill: with clients writing, a backup round is taken and writing goes
// on; then the new host's data volumes are destroyed, the backup restored over them with the
// runbook an operator would use, and every write acknowledged before the restored point looked
// for. What was acknowledged after it is the gap, reported in writes and seconds against the RPO.
import type Docker from 'dockerode'
import { OpsError } from '@ocean-ops/common'
import { backupNow, backupRestore, rpoSeconds } from './backup.ts'
import { inspectContainer, waitHealthy } from './lib/deploy/docker-ops.ts'
import { labels, stackNames } from './lib/deploy/stack-spec.ts'
import { connectHost } from './lib/host/connect.ts'
import { dockerOn } from './lib/host/docker-over-ssh.ts'
import type { Inventory } from './lib/inventory.ts'
import type { Runbook } from './lib/runbook.ts'
import type { WriteTraffic } from './lib/rehearse/write-traffic.ts'

export interface DiskLossDrill {
  restoredPoint: { users: string; telemetry: string }
  /** Acknowledged before the restored point, and of those found after the restore. */
  before: { users: number; usersFound: number; events: number; eventsFound: number; missingUsers: number[]; missingEvents: number[] }
  /** Acknowledged after the restored point: lost with the disk, by design of the RPO. */
  gap: { users: number; events: number; seconds: number; rpoSeconds: number }
  backupSeconds: number
  restoreSeconds: number
  ok: boolean
}

/** Empties the stack's data volumes on the new host, as a lost disk leaves them (the service stopped first). */
export async function destroyData(docker: Docker, inv: Inventory): Promise<void> {
  const stack = inv.ocean?.stack ?? 'ocean'
  const n = stackNames(stack)
  for (const c of [n.ocean, `${stack}-backup`, n.redis]) if ((await inspectContainer(docker, c))?.State.Running) await docker.getContainer(c).stop({ t: 10 })
  const api = await inspectContainer(docker, n.ocean)
  if (!api) throw new OpsError('OPS_E_PRECONDITION', `no ${n.ocean} on the new host`)
  const c = await docker.createContainer({
    Image: api.Config.Image,
    User: '0',
    Cmd: ['sh', '-c', 'find /data /redis -mindepth 1 -delete && test -z "$(find /data /redis -mindepth 1)"'],
    Labels: { [labels.stack]: stack, 'ocean-ops.role': 'rehearse-disk-loss' },
    HostConfig: { Binds: [`${n.oceanVolume}:/data`, `${n.redisVolume}:/redis`] },
  })
  try {
    await c.start()
    const exit = (await c.wait()) as { StatusCode: number }
    if (exit.StatusCode !== 0) throw new OpsError('OPS_E_BACKUP', `emptying the data volumes exited ${exit.StatusCode}`)
  } finally {
    await c.remove({ force: true }).catch(() => undefined)
  }
}

export async function diskLossDrill(rb: Runbook, inv: Inventory, traffic: WriteTraffic, found: (t: WriteTraffic) => Promise<{ users: Set<number>; events: Set<number> }>, log: (l: string) => void): Promise<DiskLossDrill> {
  const t0 = performance.now()
  const round = await backupNow(rb, inv, { duckdb: true })
  if (!round) throw new OpsError('OPS_E_BACKUP', 'the backup round returned nothing')
  const backupSeconds = (performance.now() - t0) / 1000
  const usersAt = Date.parse(round.manifest.sqliteAt)
  const eventsAt = Date.parse(round.manifest.redisAt ?? round.manifest.duckdbAt ?? round.manifest.sqliteAt)
  log(`backup ${round.snapshotId.slice(0, 8)}: users as of ${round.manifest.sqliteAt}, telemetry as of ${round.manifest.redisAt}; writing goes on for 3 s`)
  await new Promise((r) => setTimeout(r, 3000))
  await traffic.stop()
  const lostAt = Date.now()
  const host = await connectHost(inv.newHost)
  const docker = await dockerOn(host)
  log('the disk is lost: emptying the new host\'s data volumes (ocean.db, telemetry.duckdb, the Redis AOF)')
  await destroyData(docker, inv)
  const t1 = performance.now()
  await backupRestore(rb, inv, { at: new Date(), to: 'live' })
  const restoreSeconds = (performance.now() - t1) / 1000
  const backup = `${inv.ocean?.stack ?? 'ocean'}-backup`
  await docker.getContainer(backup).start().catch(() => undefined)
  await waitHealthy(docker, backup, 120_000, () => undefined)
  const have = await found(traffic)
  const usersBefore = traffic.users.filter((u) => u.ackedAt < usersAt)
  const eventsBefore = traffic.telemetryValues.filter((_, i) => traffic.telemetryAckedAt[i]! < eventsAt)
  const missingUsers = usersBefore.filter((u) => !have.users.has(u.id)).map((u) => u.id)
  const missingEvents = eventsBefore.filter((v) => !have.events.has(v))
  const rpo = rpoSeconds(inv)
  const gapSeconds = (lostAt - Math.min(usersAt, eventsAt)) / 1000
  const r: DiskLossDrill = {
    restoredPoint: { users: new Date(usersAt).toISOString(), telemetry: new Date(eventsAt).toISOString() },
    before: { users: usersBefore.length, usersFound: usersBefore.length - missingUsers.length, events: eventsBefore.length, eventsFound: eventsBefore.length - missingEvents.length, missingUsers: missingUsers.slice(0, 20), missingEvents: missingEvents.slice(0, 20) },
    gap: { users: traffic.users.length - usersBefore.length, events: traffic.telemetryValues.length - eventsBefore.length, seconds: Math.round(gapSeconds * 10) / 10, rpoSeconds: rpo.sqlite },
    backupSeconds,
    restoreSeconds,
    ok: false,
  }
  r.ok = missingUsers.length === 0 && missingEvents.length === 0 && usersBefore.length > 0 && eventsBefore.length > 0 && gapSeconds <= rpo.sqlite
  return r
}
