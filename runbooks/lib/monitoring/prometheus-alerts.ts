// The alerts Prometheus holds now (firing and pending), read the way an operator would: `curl` of
// its /api/v1/alerts inside the stack's Prometheus container (it listens on the container's
// loopback only, never published), through Docker on the new host. No container: no monitoring.
import { PassThrough } from 'node:stream'
import type Docker from 'dockerode'
import { OpsError } from '@ocean-ops/common'
import { inspectContainer } from '../deploy/docker-ops.ts'

export interface PrometheusAlert {
  name: string
  severity: string
  state: 'firing' | 'pending'
  /** When the alert's condition became true (pending since, or firing since once its `for` passed). */
  activeAt: string | null
  summary?: string
}

export interface AlertsReading {
  /** false: there is no Prometheus container on the host ("monitoring not deployed", not an error). */
  deployed: boolean
  alerts: PrometheusAlert[]
}

export const PROMETHEUS_API = 'http://127.0.0.1:9090/api/v1/alerts'

/** The stack's Prometheus container (the monitoring deploy's name for it). */
export const prometheusContainer = (stack: string): string => `${stack}-prometheus`

const SEVERITY_ORDER = ['critical', 'page', 'error', 'warning', 'info', 'none']
const rank = (s: string) => (SEVERITY_ORDER.includes(s) ? SEVERITY_ORDER.indexOf(s) : SEVERITY_ORDER.length)

/**
 * Prometheus's answer to GET /api/v1/alerts (`{status: 'success', data: {alerts: [...]}}`) as
 * alerts: firing before pending, the most severe first. Anything else is an error that says what came.
 */
export function parseAlerts(json: unknown): PrometheusAlert[] {
  const body = (typeof json === 'string' ? safeParse(json) : json) as { status?: unknown; error?: unknown; data?: { alerts?: unknown } } | undefined
  if (!body || typeof body !== 'object') throw new OpsError('OPS_E_REMOTE', `Prometheus's /api/v1/alerts answered something that is not JSON: ${String(json).slice(0, 120)}`)
  if (body.status !== 'success') throw new OpsError('OPS_E_REMOTE', `Prometheus's /api/v1/alerts answered status ${String(body.status)}${body.error ? `: ${String(body.error)}` : ''}`)
  const raw = body.data?.alerts
  if (!Array.isArray(raw)) throw new OpsError('OPS_E_REMOTE', 'Prometheus\'s /api/v1/alerts answered without data.alerts')
  const alerts: PrometheusAlert[] = []
  for (const a of raw as Array<{ labels?: Record<string, string>; annotations?: Record<string, string>; state?: string; activeAt?: string }>) {
    if (a.state !== 'firing' && a.state !== 'pending') continue
    const summary = a.annotations?.summary ?? a.annotations?.description
    alerts.push({
      name: a.labels?.alertname ?? '(unnamed)',
      severity: a.labels?.severity ?? 'none',
      state: a.state,
      activeAt: a.activeAt ?? null,
      ...(summary ? { summary } : {}),
    })
  }
  return alerts.sort((x, y) => (x.state === y.state ? 0 : x.state === 'firing' ? -1 : 1) || rank(x.severity) - rank(y.severity) || x.name.localeCompare(y.name))
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Run `cmd` in a running container and collect its output and exit code (no TTY, no stdin). */
async function execIn(docker: Docker, container: string, cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const exec = await docker.getContainer(container).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, Tty: false })
  const stream = await exec.start({ hijack: true, stdin: false })
  const out: Buffer[] = []
  const err: Buffer[] = []
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  stdout.on('data', (c: Buffer) => out.push(c))
  stderr.on('data', (c: Buffer) => err.push(c))
  docker.modem.demuxStream(stream, stdout, stderr)
  await new Promise<void>((resolve, reject) => {
    stream.once('end', () => resolve())
    stream.once('close', () => resolve())
    stream.once('error', reject)
  })
  const info = await exec.inspect()
  return { code: info.ExitCode ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }
}

/** The alerts of the stack's Prometheus, or `deployed: false` when the stack has none. */
export async function firingAlerts(docker: Docker, stack: string): Promise<AlertsReading> {
  const name = prometheusContainer(stack)
  const info = await inspectContainer(docker, name)
  if (!info) return { deployed: false, alerts: [] }
  if (!info.State.Running) throw new OpsError('OPS_E_REMOTE', `${name} is ${info.State.Status}${info.State.Error ? ` (${info.State.Error})` : ''}: alerts cannot be read; see \`docker logs ${name}\` on the new host`)
  const r = await execIn(docker, name, ['curl', '-fsS', '--max-time', '4', PROMETHEUS_API])
  if (r.code !== 0) throw new OpsError('OPS_E_REMOTE', `curl ${PROMETHEUS_API} in ${name} exited ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' ') || '(no output)'}`)
  return { deployed: true, alerts: parseAlerts(r.stdout) }
}
