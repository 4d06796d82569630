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

export async function ensureRedisImage(repoRoot: string, log: Log): Promise<string> {
  const dir = path.join(repoRoot, 'services/redis')
  const tag = `ocean-redis:${contentHash([{ path: dir }])}`
  if (await imageExists(tag)) return tag
  const base = await ensureDebianBase(log)
  return buildImage({ context: dir, tag, buildArgs: { BASE_IMAGE: base } }, log)
}
