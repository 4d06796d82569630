// Pure builders of the monitoring containers the deploy runs beside the stack, all from the
// monitoring image: Prometheus and Alertmanager (published on the new host's 127.0.0.1 only, for
// `ocean-ops monitor`'s SSH tunnel), node_exporter and redis_exporter (not published at all).
// Secrets are mounted files; nothing secret is in a container's environment or command line.
import type Docker from 'dockerode'
import { labels, specHash } from '../deploy/stack-spec.ts'
import { IN_CONTAINER, retentionFlags, type MonitoringSettings } from './monitoring-config.ts'
import type { MonitoringNames } from './monitoring-names.ts'

export { monitoringNames, type MonitoringNames } from './monitoring-names.ts'

export const MONITORING_UID = 10003
export const PROMETHEUS_PORT = 9090
export const ALERTMANAGER_PORT = 9093

/** The files of the settings directory, as the containers see them. */
export function settingsFiles(m: MonitoringNames) {
  return {
    prometheusConfig: `${m.settingsDir}/prometheus.yml`,
    rules: `${m.settingsDir}/rules`,
    oceanKey: `${m.settingsDir}/ocean-api-key`,
    redisPassword: `${m.settingsDir}/redis-password`,
    alertmanagerConfig: `${m.settingsDir}/alertmanager.yml`,
  }
}

interface Part {
  name: string
  role: string
  cmd: string[]
  binds: string[]
  /** A port published on the host's loopback. */
  loopbackPort?: number
  healthUrl: string
  memoryMb: number
  cpus: number
}

function containerSpec(stack: string, image: string, m: MonitoringNames, p: Part, contentOf: (hostPath: string) => string): Docker.ContainerCreateOptions {
  const port = p.loopbackPort
  const spec: Docker.ContainerCreateOptions = {
    name: p.name,
    Image: image,
    Cmd: p.cmd,
    User: String(MONITORING_UID),
    Labels: { [labels.stack]: stack, 'ocean-ops.role': p.role },
    Healthcheck: { Test: ['CMD', 'curl', '-fsS', '-o', '/dev/null', p.healthUrl], Interval: 5e9, Timeout: 3e9, Retries: 3, StartPeriod: 60e9 },
    ...(port ? { ExposedPorts: { [`${port}/tcp`]: {} } } : {}),
    HostConfig: {
      NetworkMode: m.network,
      Binds: p.binds,
      RestartPolicy: { Name: 'unless-stopped' },
      Memory: p.memoryMb * 1024 * 1024,
      NanoCpus: Math.round(p.cpus * 1e9),
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      // Only Prometheus and Alertmanager, and only on the host's loopback: `ocean-ops monitor` tunnels there.
      PortBindings: port ? { [`${port}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: String(port) }] } : {},
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
    },
  }
  // A container is replaced when its definition or a settings file it mounts changed (not when another's did).
  spec.Labels![labels.spec] = specHash([spec, ...p.binds.map((b) => contentOf(b.split(':')[0]!))])
  return spec
}

/** The four containers, in the order the deploy starts them; `contentOf` gives a digest of what a bind's host path holds ('' for volumes). */
export function monitoringSpecs(stack: string, image: string, m: MonitoringNames, s: MonitoringSettings, contentOf: (hostPath: string) => string): Docker.ContainerCreateOptions[] {
  const f = settingsFiles(m)
  const parts: Part[] = [
    {
      name: m.nodeExporter,
      role: 'node-exporter',
      // The host's filesystems under /host (read-only); CPU and memory figures are host-wide anyway.
      cmd: ['prometheus-node-exporter', '--path.rootfs=/host', '--collector.textfile.directory=/textfile', '--web.listen-address=:9100'],
      binds: ['/:/host:ro', `${m.textfileVolume}:/textfile:ro`],
      healthUrl: 'http://127.0.0.1:9100/metrics',
      memoryMb: 128,
      cpus: 0.25,
    },
    {
      name: m.redisExporter,
      role: 'redis-exporter',
      // redis_exporter 1.45 takes the password from a flag or $REDIS_PASSWORD only: set it inside the
      // process from the mounted file, so it is in neither `docker inspect` nor the command line.
      cmd: ['sh', '-c', `REDIS_PASSWORD="$(cat ${IN_CONTAINER.redisPassword})" exec prometheus-redis-exporter -redis.addr=redis://${m.redis}:6379 -web.listen-address=:9121`],
      binds: [`${f.redisPassword}:${IN_CONTAINER.redisPassword}:ro`],
      healthUrl: 'http://127.0.0.1:9121/metrics',
      memoryMb: 64,
      cpus: 0.25,
    },
    {
      name: m.alertmanager,
      role: 'alertmanager',
      cmd: ['prometheus-alertmanager', `--config.file=${IN_CONTAINER.alertmanagerConfig}`, '--storage.path=/alertmanager', '--cluster.listen-address=', `--web.listen-address=:9093`],
      binds: [`${f.alertmanagerConfig}:${IN_CONTAINER.alertmanagerConfig}:ro`, `${m.alertmanagerVolume}:/alertmanager`],
      loopbackPort: 9093,
      healthUrl: 'http://127.0.0.1:9093/-/ready',
      memoryMb: 128,
      cpus: 0.25,
    },
    {
      name: m.prometheus,
      role: 'prometheus',
      cmd: ['prometheus', `--config.file=${IN_CONTAINER.prometheusConfig}`, '--storage.tsdb.path=/prometheus', '--web.listen-address=:9090', ...retentionFlags(s)],
      binds: [
        `${f.prometheusConfig}:${IN_CONTAINER.prometheusConfig}:ro`,
        `${f.rules}:${IN_CONTAINER.rules}:ro`,
        `${f.oceanKey}:${IN_CONTAINER.oceanKey}:ro`,
        `${m.prometheusVolume}:/prometheus`,
      ],
      loopbackPort: 9090,
      healthUrl: 'http://127.0.0.1:9090/-/ready',
      memoryMb: 1024,
      cpus: 1,
    },
  ]
  return parts.map((p) => containerSpec(stack, image, m, p, contentOf))
}
