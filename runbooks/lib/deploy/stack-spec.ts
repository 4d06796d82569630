// Pure builders of what the deploy runbook creates on the new host: names, the Redis config,
// the Ocean env file and the two containers' create options. Unit-tested; no Docker here.
import crypto from 'node:crypto'
import type Docker from 'dockerode'

export interface StackSettings {
  stack: string
  oceanImage: string
  redisImage: string
  oceanPort: number
  publishAddress: string
  apiProcesses: number
  cpus: number
  memoryMb: number
  redisMemoryMb: number
}

export interface StackNames {
  network: string
  redis: string
  redisVolume: string
  ocean: string
  oceanPrevious: string
  oceanCandidate: string
  oceanVolume: string
  configDir: string
  envFile: string
  redisConf: string
}

export const OCEAN_UID = 10001
export const REDIS_UID = 10002

export function stackNames(stack: string): StackNames {
  return {
    network: `${stack}-net`,
    redis: `${stack}-redis`,
    redisVolume: `${stack}-redis-data`,
    ocean: `${stack}-api`,
    oceanPrevious: `${stack}-api-previous`,
    oceanCandidate: `${stack}-api-candidate`,
    oceanVolume: `${stack}-data`,
    configDir: `/etc/ocean-ops/${stack}`,
    envFile: `/etc/ocean-ops/${stack}/ocean.env`,
    redisConf: `/etc/ocean-ops/${stack}/redis.conf`,
  }
}

/** Redis: password required, AOF on the volume, bounded memory, never evicting buffered events. */
export function redisConf(password: string, memoryMb: number): string {
  return [
    'bind 0.0.0.0',
    'protected-mode yes',
    'port 6379',
    `requirepass ${password}`,
    'appendonly yes',
    'appendfsync everysec',
    'dir /data',
    `maxmemory ${Math.floor(memoryMb * 0.75)}mb`,
    'maxmemory-policy noeviction',
    'save ""',
    '',
  ].join('\n')
}

export function oceanEnv(o: { apiKey: string; redisPassword: string; names: StackNames; settings: StackSettings }): string {
  const lines = {
    OCEAN_API_KEY: o.apiKey,
    REDIS_URL: `redis://:${encodeURIComponent(o.redisPassword)}@${o.names.redis}:6379`,
    OCEAN_API_PROCESSES: String(o.settings.apiProcesses),
  }
  return Object.entries(lines).map(([k, v]) => `${k}=${v}`).join('\n') + '\n'
}

const LABEL = 'ocean-ops.stack'
const SPEC = 'ocean-ops.spec'

/** A stable hash of what defines a container, stored as a label: same hash, nothing to do. */
export function specHash(parts: unknown[]): string {
  return crypto.createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16)
}

export function redisSpec(s: StackSettings, n: StackNames, confHash: string): Docker.ContainerCreateOptions {
  const spec: Docker.ContainerCreateOptions = {
    name: n.redis,
    Image: s.redisImage,
    Labels: { [LABEL]: s.stack, 'ocean-ops.role': 'redis' },
    HostConfig: {
      NetworkMode: n.network,
      Binds: [`${n.redisVolume}:/data`, `${n.redisConf}:/etc/ocean-redis/redis.conf:ro`],
      RestartPolicy: { Name: 'unless-stopped' },
      Memory: s.redisMemoryMb * 1024 * 1024,
      NanoCpus: 1e9,
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      // Never published: only the Ocean container reaches it, on the stack's network.
      PortBindings: {},
    },
  }
  spec.Labels![SPEC] = specHash([spec, confHash])
  return spec
}

export function oceanSpec(s: StackSettings, n: StackNames, envHash: string, role: 'current' | 'candidate'): Docker.ContainerCreateOptions {
  const candidate = role === 'candidate'
  const spec: Docker.ContainerCreateOptions = {
    name: candidate ? n.oceanCandidate : n.ocean,
    Image: s.oceanImage,
    Labels: { [LABEL]: s.stack, 'ocean-ops.role': candidate ? 'candidate' : 'api' },
    Env: [
      'OCEAN_ENV_FILE=/run/ocean/ocean.env',
      'OCEAN_HOST=0.0.0.0',
      'OCEAN_PORT=8030',
      // The candidate proves the image and config start and reach Redis, without touching the
      // live stream or the data volume (DuckDB allows one writer).
      ...(candidate ? ['OCEAN_STREAM=ocean:deploy-candidate', 'OCEAN_GROUP=deploy-candidate', 'OCEAN_DATA_DIR=/tmp/candidate'] : []),
    ],
    ExposedPorts: { '8030/tcp': {} },
    Healthcheck: {
      Test: ['CMD', 'node', '-e', "fetch('http://127.0.0.1:8030/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"],
      Interval: 2e9,
      Timeout: 3e9,
      Retries: 3,
      StartPeriod: 60e9,
    },
    StopTimeout: 30,
    HostConfig: {
      NetworkMode: n.network,
      Binds: [...(candidate ? [] : [`${n.oceanVolume}:/data`]), `${n.envFile}:/run/ocean/ocean.env:ro`],
      RestartPolicy: { Name: candidate ? 'no' : 'unless-stopped' },
      Memory: s.memoryMb * 1024 * 1024,
      NanoCpus: Math.round(s.cpus * 1e9),
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '5' } },
      PortBindings: candidate ? {} : { '8030/tcp': [{ HostIp: s.publishAddress, HostPort: String(s.oceanPort) }] },
      ReadonlyRootfs: false,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
    },
  }
  spec.Labels![SPEC] = specHash([{ ...spec, name: n.ocean }, envHash])
  return spec
}

export const labels = { stack: LABEL, spec: SPEC }
