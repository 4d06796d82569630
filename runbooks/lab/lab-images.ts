// The lab's images, built locally and tagged by a content hash of everything that built them
// (Dockerfiles, scripts, seed SQL, host-setup's package list), so a re-run reuses them and any
// change builds anew: base (systemd, sshd, user ops) -> old (MariaDB, PostgreSQL, the crisis),
// new (Docker engine and host-setup's packages) and storage (user backup, SFTP only).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { $ } from 'zx'
import { buildImage, contentHash, debootstrapImage, imageExists, type Log } from '../lib/images/local-images.ts'
import { OpsError } from '@ocean-ops/common'
import { REPO_ROOT } from './lab-state.ts'
import { requireTools } from './lab-tools.ts'

const LAB_SRC = path.dirname(fileURLToPath(import.meta.url))
export const HOST_SETUP_SCRIPT = path.join(REPO_ROOT, 'infra', 'host-setup.sh')
/** The same debootstrap base the Ocean image uses, so one machine bootstraps Debian once. */
const BASE_INCLUDE = ['ca-certificates', 'libstdc++6']

/** The packages host-setup.sh's package step installs (its `want=(...)` list). */
export function hostSetupPackages(script: string): string[] {
  const m = /^\s*local want=\(([^)]*)\)/m.exec(script)
  if (!m?.[1]) throw new OpsError('OPS_E_LAB', `${HOST_SETUP_SCRIPT}: no \`local want=(...)\` package list found; the new host image installs that list ahead of first boot`)
  const pkgs = m[1].trim().split(/\s+/)
  for (const p of pkgs) if (!/^[a-z0-9][a-z0-9.+-]*$/.test(p)) throw new OpsError('OPS_E_LAB', `${HOST_SETUP_SCRIPT}: unexpected package name ${p}`)
  return pkgs
}

export function readHostSetup(): string {
  if (!fs.existsSync(HOST_SETUP_SCRIPT)) {
    throw new OpsError('OPS_E_LAB', `${HOST_SETUP_SCRIPT} is missing: the new host applies the same set-up script as the Pulumi cloud-init`)
  }
  return fs.readFileSync(HOST_SETUP_SCRIPT, 'utf8')
}

export interface LabImageTags {
  base: string
  old: string
  new: string
  storage: string
}

/** The tag debootstrapImage gives the shared bookworm base (same formula, so no build needed to know it). */
export function baseImageTag(): string {
  return `ocean-ops/bookworm:${contentHash(['bookworm', 'minbase', ...BASE_INCLUDE.slice().sort()])}`
}

/** The tags the current sources would build, without building anything. */
export function labImageTags(baseTag = baseImageTag()): LabImageTags {
  const img = (p: string) => ({ path: path.join(LAB_SRC, 'images', p) })
  const base = `ocean-ops/lab-base:${contentHash([baseTag, img('base')])}`
  const packages = hostSetupPackages(readHostSetup())
  return {
    base,
    old: `ocean-ops/lab-old:${contentHash([base, img('old'), { path: path.join(LAB_SRC, 'seed') }])}`,
    new: `ocean-ops/lab-new:${contentHash([base, img('new'), packages.join(' ')])}`,
    storage: `ocean-ops/lab-storage:${contentHash([base, img('storage')])}`,
  }
}

export async function ensureLabImages(log: Log): Promise<LabImageTags> {
  const baseTag = baseImageTag()
  let tags = labImageTags(baseTag)
  if ((await imageExists(tags.old)) && (await imageExists(tags.new)) && (await imageExists(tags.storage))) return tags
  if (!(await imageExists(baseTag))) await requireTools({ debootstrap: true })
  const debootstrapped = await debootstrapImage('ocean-ops/bookworm', BASE_INCLUDE, log)
  if (debootstrapped !== baseTag) tags = labImageTags(debootstrapped)
  const build = (tag: string, dir: string, context: string, buildArgs: Record<string, string>) =>
    buildImage({ context, dockerfile: path.join(LAB_SRC, 'images', dir, 'Dockerfile'), tag, buildArgs }, log)
  await build(tags.base, 'base', path.join(LAB_SRC, 'images', 'base'), { BASE: debootstrapped })
  // The old image copies the seed SQL too, so its context is runbooks/lab.
  await build(tags.old, 'old', LAB_SRC, { BASE: tags.base })
  await build(tags.new, 'new', path.join(LAB_SRC, 'images', 'new'), { BASE: tags.base, PACKAGES: hostSetupPackages(readHostSetup()).join(' ') })
  await build(tags.storage, 'storage', path.join(LAB_SRC, 'images', 'storage'), { BASE: tags.base })
  await pruneStaleLabImages(tags, log)
  return tags
}

/** Older lab image tags would pile up with every recipe change; drop those no container uses. */
async function pruneStaleLabImages(current: LabImageTags, log: Log): Promise<void> {
  const keep = new Set(Object.values(current))
  const listed = await $({ quiet: true, nothrow: true })`docker image ls --format {{.Repository}}:{{.Tag}} --filter reference=ocean-ops/lab-*`
  for (const ref of listed.stdout.split('\n').map((l) => l.trim()).filter(Boolean)) {
    if (keep.has(ref)) continue
    // Refused (and left alone) while a container still runs from it.
    const r = await $({ quiet: true, nothrow: true })`docker image rm ${ref}`
    if (r.exitCode === 0) log(`removed stale image ${ref}`)
  }
}
