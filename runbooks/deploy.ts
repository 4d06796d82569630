// `ocean-ops deploy`: put the Ocean stack on the new host, health-gated, with the previous
// release kept for `--rollback`. Re-running with nothing changed changes nothing.
import crypto from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Docker from 'dockerode'
import { containerLogs, ensureNetwork, ensureVolume, inspectContainer, removeContainer, shipImage, waitHealthy } from './lib/deploy/docker-ops.ts'
import { OCEAN_UID, REDIS_UID, labels, oceanEnv, oceanSpec, redisConf, redisSpec, stackNames, type StackNames, type StackSettings } from './lib/deploy/stack-spec.ts'
import { deployBackup } from './lib/backup/backup-deploy.ts'
import { connectHost } from './lib/host/connect.ts'
import { dockerOn } from './lib/host/docker-over-ssh.ts'
import { writeIfChanged } from './lib/host/write-if-changed.ts'
import { ensureOceanImage } from './lib/images/ocean-image.ts'
import { ensureRedisImage } from './lib/images/redis-image.ts'
import { ensureMonitoringImage } from './lib/images/monitoring-image.ts'
import { deployMonitoring } from './lib/monitoring/monitoring-deploy.ts'
import { monitoringNames } from './lib/monitoring/monitoring-spec.ts'
import { resolveSecret, type Inventory } from './lib/inventory.ts'
import { OpsError } from '@ocean-ops/common'
import type { Runbook } from './lib/runbook.ts'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export interface DeployOptions {
  /** Use this local image instead of building services/ocean. */
  image?: string
  healthTimeoutMs?: number
}

export interface DeployResult {
  release: string
  changed: boolean
  shippedBytes: number
}

export function settingsFor(inv: Inventory, oceanImage: string, redisImage: string): StackSettings {
  const o = inv.ocean ?? {}
  return {
    stack: o.stack ?? 'ocean',
    oceanImage,
    redisImage,
    oceanPort: inv.oceanPort,
    publishAddress: o.publishAddress ?? '0.0.0.0',
    apiProcesses: o.apiProcesses ?? 2,
    cpus: o.cpus ?? 6,
    memoryMb: o.memoryMb ?? 4096,
    redisMemoryMb: o.redisMemoryMb ?? 1024,
  }
}

export async function deploy(rb: Runbook, inv: Inventory, opts: DeployOptions = {}): Promise<DeployResult> {
  const host = (await rb.step('connect', { describe: `SSH to ${inv.newHost.user}@${inv.newHost.address} (pinned host key)` }, () => connectHost(inv.newHost)))!
  const docker = await dockerOn(host)
  await rb.step('docker engine', { describe: 'the new host\'s Docker engine answers' }, async () => (await docker.version()).Version)

  const local = new Docker()
  const monitoring = inv.monitoring?.enabled !== false
  const images = (await rb.step('images', { describe: `build or reuse the Ocean, Redis${monitoring ? ' and monitoring' : ''} images locally` }, async (p) => ({
    ocean: opts.image ?? (await ensureOceanImage(repoRoot, p.progress)),
    redis: await ensureRedisImage(repoRoot, p.progress),
    monitoring: monitoring ? await ensureMonitoringImage(repoRoot, p.progress) : undefined,
  })))!
  const settings = settingsFor(inv, images.ocean, images.redis)
  const names = stackNames(settings.stack)
  const stackLabel = { [labels.stack]: settings.stack }

  const shipped = await rb.step('ship images', { mutates: true, describe: 'docker save | ssh | docker load, unless the new host has them' }, async (p) => {
    const a = await shipImage(local, docker, images.ocean, p.progress)
    const b = await shipImage(local, docker, images.redis, p.progress)
    const c = images.monitoring ? await shipImage(local, docker, images.monitoring, p.progress) : { bytes: 0 }
    return { bytes: a.bytes + b.bytes + c.bytes, ocean: a.id }
  })

  const secrets = { apiKey: resolveSecret(inv.ocean?.apiKey, 'the Ocean API key'), redisPassword: resolveSecret(inv.ocean?.redisPassword, 'the Redis password') }
  const envText = oceanEnv({ ...secrets, names, settings })
  const confText = redisConf(secrets.redisPassword, settings.redisMemoryMb)
  const envHash = sha(envText)
  const confHash = sha(confText)

  const filesChanged = await rb.step('config files', { mutates: true, describe: `${names.envFile} and ${names.redisConf} (0600)` }, async () => {
    await host.exec(['install', '-d', '-m', '0711', names.configDir], { sudo: true })
    const a = await writeIfChanged(host, names.envFile, envText, `${OCEAN_UID}:${OCEAN_UID}`)
    const b = await writeIfChanged(host, names.redisConf, confText, `${REDIS_UID}:${REDIS_UID}`)
    return a || b
  })

  await rb.step('network and volumes', { mutates: true, describe: `${names.network}, ${names.oceanVolume}, ${names.redisVolume}` }, async () => {
    await ensureNetwork(docker, names.network, stackLabel)
    await ensureVolume(docker, names.oceanVolume, stackLabel)
    await ensureVolume(docker, names.redisVolume, stackLabel)
  })

  const redisChanged = await rb.step('redis', { mutates: true, describe: `${names.redis} (password, AOF, not published)` }, async (p) => {
    const spec = redisSpec(settings, names, confHash)
    const current = await inspectContainer(docker, names.redis)
    if (current?.State.Running && current.Config.Labels?.[labels.spec] === spec.Labels![labels.spec]) return false
    if (current) await removeContainer(docker, names.redis)
    await (await docker.createContainer(spec)).start()
    await waitHealthy(docker, names.redis, 30_000, p.progress)
    return true
  })

  const release = oceanSpec(settings, names, envHash, 'current')
  const releaseChanged = await rb.step('ocean release', { mutates: true, describe: `${names.ocean} from ${images.ocean}, health-gated; the running one is kept as ${names.oceanPrevious}` }, async (p) => {
    const current = await inspectContainer(docker, names.ocean)
    if (current?.State.Running && current.Config.Labels?.[labels.spec] === release.Labels![labels.spec] && !redisChanged) return false
    await proveCandidate(docker, settings, names, envHash, opts.healthTimeoutMs ?? 90_000, p.progress)
    await switchRelease(docker, names, release, opts.healthTimeoutMs ?? 90_000, p.progress)
    return true
  })

  const monitoringImage = images.monitoring
  const monitoringChanged = monitoringImage
    ? await rb.step('monitoring', { mutates: true, describe: `${settings.stack}-prometheus, -alertmanager, -node-exporter, -redis-exporter (Prometheus and Alertmanager on the host's 127.0.0.1 only)` }, async (p) =>
        (await deployMonitoring(host, docker, { stack: settings.stack, image: monitoringImage, names, section: inv.monitoring, secrets, repoRoot }, p.progress)).changed)
    : false

  const backup = inv.backup
  const textfileVolume = monitoring ? monitoringNames(names, settings.stack).textfileVolume : undefined
  const backupChanged = backup
    ? await rb.step('backups', { mutates: true, describe: `${settings.stack}-backup: restic to ${backup.repository}, SQLite every ${backup.sqliteSeconds ?? 30} s, DuckDB every ${backup.duckdbSeconds ?? 900} s` }, async (p) => (await deployBackup(host, docker, backup, settings, names, p.progress, { textfileVolume })).changed)
    : false

  return { release: images.ocean, changed: Boolean(shipped?.bytes || filesChanged || redisChanged || releaseChanged || monitoringChanged || backupChanged), shippedBytes: shipped?.bytes ?? 0 }
}

/** Start the new image beside the live one (scratch data, its own stream) and require health. */
async function proveCandidate(docker: Docker, s: StackSettings, n: StackNames, envHash: string, timeoutMs: number, progress: (l: string) => void): Promise<void> {
  await removeContainer(docker, n.oceanCandidate)
  await (await docker.createContainer(oceanSpec(s, n, envHash, 'candidate'))).start()
  try {
    await waitHealthy(docker, n.oceanCandidate, timeoutMs, progress)
  } catch (e) {
    const logs = await containerLogs(docker, n.oceanCandidate)
    await removeContainer(docker, n.oceanCandidate)
    throw new OpsError('OPS_E_DEPLOY', `${(e as Error).message}; the running release was not touched. Its logs:\n${logs}`)
  }
  await removeContainer(docker, n.oceanCandidate)
}

/** Stop the live release (kept as -previous), start the new one; if it is not healthy, bring the old one back. */
async function switchRelease(docker: Docker, n: StackNames, spec: Docker.ContainerCreateOptions, timeoutMs: number, progress: (l: string) => void): Promise<void> {
  const live = await inspectContainer(docker, n.ocean)
  if (live) {
    await removeContainer(docker, n.oceanPrevious)
    if (live.State.Running) await docker.getContainer(live.Id).stop({ t: 30 })
    await docker.getContainer(live.Id).rename({ name: n.oceanPrevious })
  }
  await (await docker.createContainer(spec)).start()
  try {
    await waitHealthy(docker, n.ocean, timeoutMs, progress)
  } catch (e) {
    const logs = await containerLogs(docker, n.ocean)
    await removeContainer(docker, n.ocean)
    if (live) {
      await docker.getContainer(live.Id).rename({ name: n.ocean })
      await docker.getContainer(live.Id).start()
      progress(`restored the previous release ${live.Config.Image}`)
    }
    throw new OpsError('OPS_E_DEPLOY', `${(e as Error).message}; ${live ? 'the previous release serves again' : 'nothing was running before'}. Logs of the failed release:\n${logs}`)
  }
}

/** `deploy --rollback`: the previous release becomes current again (and the current one previous). */
export async function rollbackRelease(rb: Runbook, inv: Inventory, opts: { healthTimeoutMs?: number } = {}): Promise<string> {
  const host = (await rb.step('connect', { describe: `SSH to ${inv.newHost.address}` }, () => connectHost(inv.newHost)))!
  const docker = await dockerOn(host)
  const names = stackNames(inv.ocean?.stack ?? 'ocean')
  const previous = await rb.step('find previous release', {}, async () => {
    const prev = await inspectContainer(docker, names.oceanPrevious)
    if (!prev) throw new OpsError('OPS_E_DEPLOY', `there is no previous release (${names.oceanPrevious}) on ${inv.newHost.address} to roll back to`)
    return prev.Config.Image
  })
  await rb.step('switch to previous release', { mutates: true, describe: `${names.ocean} <- ${previous}` }, async (p) => {
    const prev = (await inspectContainer(docker, names.oceanPrevious))!
    const live = await inspectContainer(docker, names.ocean)
    if (live) {
      if (live.State.Running) await docker.getContainer(live.Id).stop({ t: 30 })
      await docker.getContainer(live.Id).rename({ name: `${names.ocean}-rolled-back` })
    }
    await docker.getContainer(prev.Id).rename({ name: names.ocean })
    await docker.getContainer(prev.Id).start()
    try {
      await waitHealthy(docker, names.ocean, opts.healthTimeoutMs ?? 90_000, p.progress)
    } catch (e) {
      const logs = await containerLogs(docker, names.ocean)
      await docker.getContainer(prev.Id).stop({ t: 10 }).catch(() => undefined)
      await docker.getContainer(prev.Id).rename({ name: names.oceanPrevious })
      if (live) {
        await docker.getContainer(live.Id).rename({ name: names.ocean })
        await docker.getContainer(live.Id).start()
      }
      throw new OpsError('OPS_E_DEPLOY', `the previous release did not become healthy (${(e as Error).message}); the current one serves again. Logs:\n${logs}`)
    }
    if (live) await docker.getContainer(live.Id).rename({ name: names.oceanPrevious })
  })
  return previous ?? ''
}

function sha(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, 16)
}
