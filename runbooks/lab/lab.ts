// The local lab: an "old" and a "new" Debian host, and a "storage" host (SFTP only for backups,
// a Storage Box's stand-in), as containers on a Docker network of their own, reached over SSH on
// 127.0.0.1 with keys and host keys made here. What runbooks and tests
// use: labUp (idempotent), labDown (removes what it made), labStatus, loadLab.
import crypto from 'node:crypto'
import fs from 'node:fs'
import type Docker from 'dockerode'
import type { Log } from '../lib/images/local-images.ts'
import { createLab, refreshLab } from './lab-create.ts'
import { DIR_LABEL, LABEL, ROLE_LABEL, docker, execIn } from './lab-docker.ts'
import { labDir, readState, removeLabFiles, seedSize, type SeedSize } from './lab-state.ts'
import { requireTools } from './lab-tools.ts'

import type { Lab } from './lab-types.ts'

export type { Lab, LabHost } from './lab-types.ts'

/** What `lab up` seeds when neither opts.seed nor LAB_SEED_USERS / LAB_SEED_TELEMETRY say otherwise. */
export const DEFAULT_SEED: SeedSize = { users: 100_000, telemetryRows: 5_000_000 }

const quiet: Log = () => {}

/**
 * Brings the lab up, or reuses the running one. A seed size given explicitly (opts or env) that
 * differs from what the running lab holds reseeds it; without one, whatever is seeded stays.
 */
export async function labUp(opts: { log?: (line: string) => void; seed?: SeedSize } = {}): Promise<Lab> {
  const log = opts.log ?? quiet
  const started = Date.now()
  await requireTools({ debootstrap: false })
  const dir = labDir()
  const { seed, explicit } = seedSize(opts.seed, DEFAULT_SEED)
  const state = readState(dir)
  if (state) {
    const lab = await refreshLab(state, { seed: explicit ? seed : undefined, log })
    if (lab) {
      log(`lab ${lab.id} is up (reused, ${((Date.now() - started) / 1000).toFixed(1)} s)`)
      return lab
    }
    log(`lab ${state.lab.id} is incomplete; removing it and starting over`)
    await labDown({ log })
  }
  fs.mkdirSync(dir, { recursive: true })
  const lab = await createLab({ dir, id: crypto.randomBytes(4).toString('hex'), seed, log })
  log(`lab ${lab.id} is up (${((Date.now() - started) / 1000).toFixed(1)} s)`)
  return lab
}

/**
 * Removes every container, network and volume this lab dir's lab made: those carrying its label
 * (its id, or its dir for a lab whose state.json was lost) and those state.json names, the
 * latter only when they carry the label too. Then its keys and state.
 */
export async function labDown(opts: { log?: (line: string) => void } = {}): Promise<void> {
  const log = opts.log ?? quiet
  const d = docker()
  const dir = labDir()
  const state = readState(dir)
  const labels = [`${DIR_LABEL}=${dir}`, ...(state ? [`${LABEL}=${state.lab.id}`] : [])]
  const ours = (l: Record<string, string> | undefined) => Boolean(l && (l[DIR_LABEL] === dir || (state && l[LABEL] === state.lab.id)))

  const containers = new Set<string>()
  for (const label of labels) for (const c of await d.listContainers({ all: true, filters: { label: [label] } })) containers.add(c.Id)
  const recorded: Partial<Lab> | undefined = state?.lab
  for (const id of [recorded?.old, recorded?.new, recorded?.storage].flatMap((h) => (h ? [h.containerId] : []))) {
    const info = await d.getContainer(id).inspect().catch(() => undefined)
    if (info && ours(info.Config.Labels)) containers.add(info.Id)
  }
  for (const id of containers) {
    await removeInnerContainers(d.getContainer(id), log)
    log(`removing container ${id.slice(0, 12)}`)
    await d.getContainer(id).remove({ force: true, v: true })
  }

  const networks = new Set<string>()
  for (const label of labels) for (const n of await d.listNetworks({ filters: { label: [label] } })) networks.add(n.Id)
  if (state) {
    const info = await d.getNetwork(state.lab.networkId).inspect().catch(() => undefined)
    if (info && ours(info.Labels)) networks.add(info.Id)
  }
  for (const id of networks) {
    log(`removing network ${id.slice(0, 12)}`)
    await d.getNetwork(id).remove()
  }

  const volumes = new Set<string>()
  for (const label of labels) for (const v of (await d.listVolumes({ filters: { label: [label] } })).Volumes ?? []) volumes.add(v.Name)
  for (const name of state?.volumes ?? []) {
    const info = await d.getVolume(name).inspect().catch(() => undefined)
    if (info && ours(info.Labels)) volumes.add(info.Name)
  }
  for (const name of volumes) {
    log(`removing volume ${name}`)
    await d.getVolume(name).remove()
  }
  removeLabFiles(dir)
  log(state ? `lab ${state.lab.id} is down` : 'no lab state; removed what carried this lab dir\'s label')
}

/**
 * The new host's engine shares the machine's cgroup namespace: containers it still runs when the
 * host is killed leave empty cgroup directories behind on this machine. Removing them through that
 * engine first lets runc clean up (stopping dockerd would not: host-setup turns on live-restore).
 */
async function removeInnerContainers(c: Docker.Container, log: Log): Promise<void> {
  const info = await c.inspect().catch(() => undefined)
  if (info?.Config.Labels?.[ROLE_LABEL] !== 'new' || !info.State.Running) return
  const r = await execIn(c, ['sh', '-c', 'command -v docker >/dev/null || exit 0; ids=$(timeout 20 docker ps -aq) || exit 0; [ -z "$ids" ] || timeout 60 docker rm -f $ids'])
  if (r.code !== 0) log(`could not remove the new host's own containers first (${r.stderr.trim().split('\n').pop() ?? ''}); going on`)
}

export async function labStatus(): Promise<{ up: boolean; lab?: Lab; containers: Array<{ id: string; role: string; state: string }> }> {
  const dir = labDir()
  const state = readState(dir)
  const d = docker()
  const seen = new Map<string, { id: string; role: string; state: string }>()
  const labels = [`${DIR_LABEL}=${dir}`, ...(state ? [`${LABEL}=${state.lab.id}`] : [])]
  for (const label of labels) {
    for (const c of await d.listContainers({ all: true, filters: { label: [label] } })) {
      seen.set(c.Id, { id: c.Id, role: c.Labels[ROLE_LABEL] ?? 'unknown', state: c.State })
    }
  }
  const containers = [...seen.values()].sort((a, b) => a.role.localeCompare(b.role))
  const running = (id: string | undefined) => containers.some((c) => c.id === id && c.state === 'running')
  // A lab recorded before the storage host existed is not up: labUp makes it anew.
  const recorded: Partial<Lab> | undefined = state?.lab
  const up = Boolean(state && running(state.lab.old.containerId) && running(state.lab.new.containerId) && running(recorded?.storage?.containerId))
  return up && state ? { up, lab: state.lab, containers } : { up, containers }
}

export async function loadLab(): Promise<Lab | undefined> {
  return readState(labDir())?.lab
}
