// The monitoring image of the Ocean stack: services/monitoring/Dockerfile (Prometheus,
// Alertmanager, node_exporter, redis_exporter from Debian) on the same Debian base as Redis.
import type { Log } from './local-images.ts'
import { ensureDebianServiceImage } from './redis-image.ts'

export async function ensureMonitoringImage(repoRoot: string, log: Log): Promise<string> {
  return ensureDebianServiceImage(repoRoot, 'services/monitoring', 'ocean-monitoring', log)
}
