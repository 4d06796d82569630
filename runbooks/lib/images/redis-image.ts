// The Redis image of the Ocean stack: services/redis/Dockerfile on a Debian base (a local
// debootstrap stand-in for debian:bookworm-slim where no registry answers).
import path from 'node:path'
import { $ } from 'zx'
import { buildImage, contentHash, debootstrapImage, ensureBaseImage, imageExists, type Log } from './local-images.ts'

export async function ensureDebianBase(log: Log): Promise<string> {
  const ref = 'debian:bookworm-slim'
  return ensureBaseImage(ref, async () => {
    const base = await debootstrapImage('ocean-ops/bookworm', ['ca-certificates', 'libstdc++6'], log)
    await $({ quiet: true })`docker tag ${base} ${ref}`
  }, log)
}

/** An image built from `<repoRoot>/<dir>/Dockerfile` on the Debian base, tagged `<repo>:<hash of the directory>`. */
export async function ensureDebianServiceImage(repoRoot: string, dir: string, repo: string, log: Log): Promise<string> {
  const context = path.join(repoRoot, dir)
  const tag = `${repo}:${contentHash([{ path: context }])}`
  if (await imageExists(tag)) return tag
  const base = await ensureDebianBase(log)
  return buildImage({ context, tag, buildArgs: { BASE_IMAGE: base } }, log)
}

export async function ensureRedisImage(repoRoot: string, log: Log): Promise<string> {
  return ensureDebianServiceImage(repoRoot, 'services/redis', 'ocean-redis', log)
}
