// Images built on this machine without a registry: a Debian base from debootstrap, images
// built from Dockerfiles, all tagged by a content hash of what built them so a re-run on the
// same machine reuses them and a changed recipe builds anew.
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { OpsError } from '@ocean-ops/common'
import { aptMirror } from './apt-mirror.ts'

export type Log = (line: string) => void

/** sha256 over strings and the contents of files/directories (sorted walk, names included). */
export function contentHash(parts: Array<string | { path: string }>): string {
  const h = crypto.createHash('sha256')
  const walk = (p: string) => {
    const st = fs.statSync(p)
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) walk(path.join(p, name))
    } else {
      h.update(`\0file:${path.basename(p)}:${st.mode & 0o111 ? 'x' : '-'}\0`)
      h.update(fs.readFileSync(p))
    }
  }
  for (const part of parts) {
    if (typeof part === 'string') h.update(`\0str:${part}`)
    else walk(part.path)
  }
  return h.digest('hex').slice(0, 16)
}

export async function imageExists(ref: string): Promise<boolean> {
  const r = await $({ quiet: true, nothrow: true })`docker image inspect --format {{.Id}} ${ref}`
  return r.exitCode === 0
}

export async function imageId(ref: string): Promise<string> {
  return (await $({ quiet: true })`docker image inspect --format {{.Id}} ${ref}`).stdout.trim()
}

/** A Debian bookworm root filesystem from debootstrap, imported as an image (about 30 s once). */
export async function debootstrapImage(repo: string, include: string[], log: Log): Promise<string> {
  const mirror = aptMirror()
  const tag = `${repo}:${contentHash(['bookworm', 'minbase', ...include.slice().sort()])}`
  if (await imageExists(tag)) return tag
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-ops-rootfs-'))
  try {
    log(`debootstrap bookworm (${include.length ? include.join(',') : 'minbase'}) from ${mirror} -> ${tag}`)
    const includeArg = include.length ? [`--include=${include.join(',')}`] : []
    await $({ quiet: true })`debootstrap --variant=minbase ${includeArg} bookworm ${dir} ${mirror}`
    // apt inside the image must reach the same mirror; debootstrap wrote it to sources.list.
    await $({ quiet: true })`tar -C ${dir} -c . | docker import - ${tag}`
  } catch (e) {
    throw new OpsError('OPS_E_IMAGE', `could not build ${tag} with debootstrap: ${(e as Error).message.split('\n').slice(-5).join(' ')}. Check that debootstrap is installed (bash scripts/setup) and the mirror answers.`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return tag
}

/** `docker build` of a context directory; the tag is given (callers derive it from a content hash). */
export async function buildImage(opts: { context: string; dockerfile?: string; tag: string; buildArgs?: Record<string, string> }, log: Log): Promise<string> {
  if (await imageExists(opts.tag)) return opts.tag
  log(`docker build ${opts.tag}`)
  const args = Object.entries(opts.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`])
  const file = opts.dockerfile ? ['-f', opts.dockerfile] : []
  const r = await $({ quiet: true, nothrow: true })`docker build --network host -q ${args} ${file} -t ${opts.tag} ${opts.context}`
  if (r.exitCode !== 0) {
    throw new OpsError('OPS_E_IMAGE', `docker build of ${opts.tag} failed:\n${r.stderr.split('\n').slice(-15).join('\n')}`)
  }
  return opts.tag
}

/**
 * The official image when it can be pulled; otherwise a local stand-in under the same tag, so
 * Dockerfiles keep their usual FROM lines (MACHINE.md: no registry on our machines).
 */
export async function ensureBaseImage(ref: string, makeLocal: () => Promise<void>, log: Log): Promise<string> {
  if (await imageExists(ref)) return ref
  const pulled = await $({ quiet: true, nothrow: true, timeout: '60s' })`docker pull -q ${ref}`
  if (pulled.exitCode === 0) return ref
  log(`${ref} cannot be pulled here; building a local stand-in`)
  await makeLocal()
  return ref
}

/** node:20-bookworm-slim stand-in: the bookworm base plus this machine's own Node 20 binary. */
export async function ensureNodeBase(log: Log): Promise<string> {
  const ref = 'node:20-bookworm-slim'
  return ensureBaseImage(ref, async () => {
    const base = await debootstrapImage('ocean-ops/bookworm', ['ca-certificates', 'libstdc++6'], log)
    const node = fs.realpathSync(process.execPath)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-ops-node-'))
    try {
      fs.copyFileSync(node, path.join(dir, 'node'))
      fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM ${base}\nCOPY node /usr/local/bin/node\nRUN node --version\nCMD ["node"]\n`)
      await $({ quiet: true })`docker build -q -t ${ref} ${dir}`
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, log)
}
