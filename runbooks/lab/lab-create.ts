// Making a lab from nothing, and bringing a recorded one back to a known-good state (started,
// host-setup current, seeded, SSH answering with the pinned keys). State is written as soon as
// there is something to remove, so a failure half-way leaves a lab that labDown can clear.
import crypto from 'node:crypto'
import fs from 'node:fs'
import type Docker from 'dockerode'
import type { Log } from '../lib/images/local-images.ts'
import { OpsError } from '@ocean-ops/common'
import { LABEL, docker, hostContainerSpec, labLabels, placeFiles, type FileToPlace } from './lab-docker.ts'
import { ensureLabImages, labImageTags } from './lab-images.ts'
import { LAB_BACKUP } from './lab-inventory.ts'
import { ROLES, generateLabKeys, knownHostsLines, labNetworkKnownHostsLine, readLabKeys, type LabKeys, type Role } from './lab-keys.ts'
import { waitForSsh } from './lab-ssh.ts'
import { labFiles, writeState, type LabState, type RogueVariant, type SeedSize } from './lab-state.ts'
import type { Lab, LabHost } from './lab-types.ts'
import { hostSetupFiles, runHostSetup } from './new-host.ts'
import { OLD_UNITS, currentSeed, seedOldHost, waitForUnits } from './old-host.ts'
import { setRogueVariant } from './rogue.ts'

const BOOT_TIMEOUT_MS = 180_000
const OPS_UID = 1000 // fixed in images/base/Dockerfile

/**
 * What cloud-init would install: the host key the lab pins, and the lab key for ops; on the
 * storage host also the backup key for user backup, as a Storage Box's authorized_keys holds it
 * (`restrict`: no forwarding, no pty, whatever sshd allows).
 */
export function sshFiles(keys: Pick<LabKeys, 'hostKeys' | 'clientPublicKey' | 'backup'>, role: Role): FileToPlace[] {
  const hk = keys.hostKeys[role]
  const files: FileToPlace[] = [
    { path: '/etc/ssh/ssh_host_ed25519_key', content: fs.readFileSync(hk.privateKeyFile), mode: 0o600 },
    { path: '/etc/ssh/ssh_host_ed25519_key.pub', content: `${hk.publicKey} root@ocean-${role}\n`, mode: 0o644 },
    { path: '/home/ops/.ssh/authorized_keys', content: `${keys.clientPublicKey} ocean-ops-lab\n`, mode: 0o600, uid: OPS_UID, gid: OPS_UID },
  ]
  if (role === 'storage') {
    const uid = LAB_BACKUP.uid
    files.push({ path: `/home/${LAB_BACKUP.user}/.ssh/authorized_keys`, content: `restrict ${keys.backup.publicKey} ocean-backup-lab\n`, mode: 0o600, uid, gid: uid })
  }
  return files
}

async function describeHost(c: Docker.Container, networkName: string): Promise<LabHost> {
  const info = await c.inspect()
  const port = Number(info.NetworkSettings.Ports['22/tcp']?.[0]?.HostPort)
  const address = info.NetworkSettings.Networks[networkName]?.IPAddress
  if (!port || !address) throw new OpsError('OPS_E_LAB', `container ${c.id.slice(0, 12)} has no published SSH port or no address on ${networkName}`)
  return { containerId: info.Id, address, sshPort: port, user: 'ops' }
}

/** Both known_hosts files: every host (this machine's view), and the storage host alone on the lab network (the new host's). */
function writeKnownHosts(lab: Lab, keys: LabKeys): void {
  const lines = knownHostsLines(ROLES.map((r) => ({ ...lab[r], publicKey: keys.hostKeys[r].publicKey })))
  writeOwnerOnly(lab.knownHostsFile, lines)
  writeOwnerOnly(lab.storageKnownHostsFile, labNetworkKnownHostsLine({ address: lab.storage.address, publicKey: keys.hostKeys.storage.publicKey }))
}

function writeOwnerOnly(file: string, content: string): void {
  fs.writeFileSync(file, content, { mode: 0o600 })
  fs.chmodSync(file, 0o600)
}

function rogueVariantFromEnv(): RogueVariant | undefined {
  const v = process.env.LAB_ROGUE_VARIANT
  if (v === undefined || v === '') return undefined
  if (v !== 'on-disk' && v !== 'deleted') throw new OpsError('OPS_E_USAGE', `LAB_ROGUE_VARIANT must be on-disk or deleted, got ${v}`)
  return v
}

const hex = () => crypto.randomBytes(12).toString('hex')

export async function createLab(i: { dir: string; id: string; seed: SeedSize; log: Log }): Promise<Lab> {
  const { dir, id, log } = i
  const images = await ensureLabImages(log)
  const keys = await generateLabKeys(dir, id)
  const d = docker()
  const networkName = `ocean-lab-${id}`
  log(`creating lab ${id}: network ${networkName}, hosts old, new and storage`)
  const network = await d.createNetwork({ Name: networkName, Driver: 'bridge', Labels: labLabels(id, dir), CheckDuplicate: true })
  const dockerVolume = `ocean-lab-${id}-new-docker`
  await d.createVolume({ Name: dockerVolume, Labels: labLabels(id, dir) })
  const spec = { labId: id, dir, networkName }
  const old = await d.createContainer(hostContainerSpec({ ...spec, role: 'old', image: images.old }))
  const neu = await d.createContainer(hostContainerSpec({ ...spec, role: 'new', image: images.new, dockerVolume }))
  const storage = await d.createContainer(hostContainerSpec({ ...spec, role: 'storage', image: images.storage }))
  const setup = hostSetupFiles()
  await placeFiles(old, sshFiles(keys, 'old'))
  await placeFiles(neu, [...sshFiles(keys, 'new'), ...setup.files])
  await placeFiles(storage, sshFiles(keys, 'storage'))
  await old.start()
  await neu.start()
  await storage.start()

  const f = labFiles(dir)
  const lab: Lab = {
    id, dir, networkId: network.id, networkName,
    old: await describeHost(old, networkName),
    new: await describeHost(neu, networkName),
    storage: await describeHost(storage, networkName),
    identityFile: keys.identityFile,
    backupKey: keys.backup,
    knownHostsFile: f.knownHosts,
    storageKnownHostsFile: f.storageKnownHosts,
    oldDb: { pgPort: 5432, pgUser: 'ocean', pgPassword: hex(), pgDatabase: 'ocean', mysqlPort: 3306, mysqlUser: 'legacy', mysqlPassword: hex(), mysqlDatabase: 'legacy' },
  }
  writeKnownHosts(lab, keys)
  const state: LabState = {
    version: 1, lab, volumes: [dockerVolume], images: { old: images.old, new: images.new, storage: images.storage }, seed: i.seed,
    hostSetupHash: '', rogueVariant: 'on-disk', createdAt: new Date().toISOString(),
  }
  writeState(state)

  // The hosts boot and get ready side by side: seeding is the long pole.
  await Promise.all([
    waitForUnits(storage, ['ssh'], BOOT_TIMEOUT_MS),
    (async () => {
      await waitForUnits(old, OLD_UNITS, BOOT_TIMEOUT_MS)
      await seedOldHost(old, i.seed, { pg: lab.oldDb.pgPassword, mysql: lab.oldDb.mysqlPassword }, log)
    })(),
    (async () => {
      await waitForUnits(neu, ['ssh'], BOOT_TIMEOUT_MS)
      await runHostSetup(neu, log)
      state.hostSetupHash = setup.hash
    })(),
  ])
  writeState(state)
  if (rogueVariantFromEnv() === 'deleted') await setRogueVariant(lab, 'deleted')
  for (const role of ROLES) await waitForSsh(lab, role)
  return lab
}

/**
 * The recorded lab made whole again, or undefined when its containers or keys are gone (a lab
 * made before the storage host existed has no storage host in state.json: made anew too).
 */
export async function refreshLab(state: LabState, i: { seed?: SeedSize; log: Log }): Promise<Lab | undefined> {
  const { log } = i
  const d = docker()
  const recorded: Partial<Lab> = state.lab
  if (!recorded.storage || !recorded.backupKey || !recorded.storageKnownHostsFile) return undefined
  const containers = { old: d.getContainer(state.lab.old.containerId), new: d.getContainer(state.lab.new.containerId), storage: d.getContainer(recorded.storage.containerId) }
  for (const role of ROLES) {
    const info = await containers[role].inspect().catch(() => undefined)
    if (!info || info.Config.Labels?.[LABEL] !== state.lab.id) return undefined
    if (!info.State.Running) {
      log(`starting the stopped ${role} host`)
      await containers[role].start()
    }
  }
  const keys = readLabKeys(state.lab.dir)
  if (!keys) return undefined
  // Published ports are chosen again when a container restarts.
  const lab: Lab = {
    ...state.lab,
    old: await describeHost(containers.old, state.lab.networkName),
    new: await describeHost(containers.new, state.lab.networkName),
    storage: await describeHost(containers.storage, state.lab.networkName),
    backupKey: keys.backup,
  }
  writeKnownHosts(lab, keys)
  state.lab = lab
  writeState(state)
  try {
    const current = labImageTags()
    if (current.old !== state.images.old || current.new !== state.images.new || current.storage !== state.images.storage) {
      log('note: the lab images changed since this lab was made; `lab down` and `lab up` to use them')
    }
  } catch {
    // the note is best effort: a missing host-setup.sh is reported where it matters
  }

  await waitForUnits(containers.old, OLD_UNITS, BOOT_TIMEOUT_MS)
  await waitForUnits(containers.new, ['ssh'], BOOT_TIMEOUT_MS)
  await waitForUnits(containers.storage, ['ssh'], BOOT_TIMEOUT_MS)
  const setup = hostSetupFiles()
  if (state.hostSetupHash !== setup.hash) {
    await placeFiles(containers.new, setup.files)
    await runHostSetup(containers.new, log)
    state.hostSetupHash = setup.hash
    writeState(state)
  }
  const seeded = await currentSeed(containers.old)
  const want = i.seed ?? seeded ?? state.seed
  if (!seeded || seeded.users !== want.users || seeded.telemetryRows !== want.telemetryRows) {
    await seedOldHost(containers.old, want, { pg: lab.oldDb.pgPassword, mysql: lab.oldDb.mysqlPassword }, log)
    state.seed = want
    writeState(state)
  }
  const variant = rogueVariantFromEnv()
  if (variant && variant !== state.rogueVariant) await setRogueVariant(lab, variant)
  for (const role of ROLES) await waitForSsh(lab, role)
  return lab
}
