// The monitoring image of the Ocean stack: services/monitoring/Dockerfile (Prometheus,
// Alertmanager, node_exporter, redis_exporter from Debian) on the same Debian base as Redis.
import path from 'node:path'
import { buildImage, contentHash, imageExists, type Log } from './local-images.ts'
import { ensureDebianBase } from './redis-image.ts'

export async function ensureMonitoringImage(repoRoot: string, log: Log): Promise<string> {
  const dir = path.join(repoRoot, 'services/monitoring')
  const tag = `ocean-monitoring:${contentHash([{ path: dir }])}`
  if (await imageExists(tag)) return tag
  const base = await ensureDebianBase(log)
  return buildImage({ context: dir, tag, buildArgs: { BASE_IMAGE: base } }, log)
}
