// The rehearsal's alert drill: the monitoring stack is shown to work end to end, for real. The
// API is stopped (a service that died), Prometheus's TargetDown alert must go pending and then
// fire, Alertmanager must deliver it to the configured webhook (in the lab, a small receiver
// container on the stack's network standing in for the operator's chat or pager); the API is
// started again and the alert must resolve, and the resolved notice arrive. Times are reported.
import type Docker from 'dockerode'
import { OpsError } from '@ocean-ops/common'
import { containerLogs, inspectContainer, removeContainer, waitHealthy } from './lib/deploy/docker-ops.ts'
import { stackNames } from './lib/deploy/stack-spec.ts'
import { connectHost } from './lib/host/connect.ts'
import { dockerOn } from './lib/host/docker-over-ssh.ts'
import type { Inventory } from './lib/inventory.ts'
import { firingAlerts } from './lib/monitoring/prometheus-alerts.ts'
import { alertSinkName, SINK_PORT } from './lab/lab-inventory.ts'
import { waitFor } from './lab/lab-docker.ts'

/** Prometheus and the receiver are asked every 2 s (each ask is a docker exec over SSH). */
const poll = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>) => waitFor(`alert drill: ${what}`, timeoutMs, probe, 2000)

export const DRILL_ALERT = 'TargetDown'

export interface AlertDrill {
  alert: string
  stoppedAt: string
  /** Prometheus: the alert pending (condition true) and firing (its `for` passed). */
  pendingAt: string | null
  firingAt: string
  /** The webhook received the firing notification. */
  notifiedAt: string
  startedAgainAt: string
  /** Gone from Prometheus's alerts, and the webhook received the resolved notification. */
  resolvedAt: string
  resolvedNotifiedAt: string
  ok: boolean
}

interface Notice {
  receivedAt: string
  status: string
  alerts: Array<{ name: string; job?: string; status: string }>
}

// Prints one JSON line per notification Alertmanager posts (webhook payload, version 4).
const SINK_SCRIPT = `require('http').createServer((q, s) => { let b = ''; q.on('data', (d) => (b += d)); q.on('end', () => {
  try { const p = JSON.parse(b); console.log(JSON.stringify({ receivedAt: new Date().toISOString(), status: p.status,
    alerts: (p.alerts || []).map((a) => ({ name: a.labels.alertname, job: a.labels.job, status: a.status })) })) } catch { console.log('{}') }
  s.end('ok') }) }).listen(${SINK_PORT})`

async function ensureSink(docker: Docker, stack: string, image: string): Promise<void> {
  const name = alertSinkName(stack)
  if ((await inspectContainer(docker, name))?.State.Running) return
  await removeContainer(docker, name)
  const c = await docker.createContainer({
    name,
    Image: image,
    Cmd: ['node', '-e', SINK_SCRIPT],
    // Not labelled as part of the stack: it is the lab's stand-in for the operator's receiver, and verify checks the stack's containers.
    Labels: { 'ocean-ops.role': 'rehearse-alert-sink' },
    HostConfig: { NetworkMode: stackNames(stack).network, RestartPolicy: { Name: 'unless-stopped' }, CapDrop: ['ALL'] },
  })
  await c.start()
}

async function notices(docker: Docker, stack: string): Promise<Notice[]> {
  const text = await containerLogs(docker, alertSinkName(stack), 500)
  return text.split('\n').filter((l) => l.startsWith('{"receivedAt"')).map((l) => JSON.parse(l) as Notice)
}

export async function alertDrill(inv: Inventory, log: (l: string) => void): Promise<AlertDrill> {
  const stack = inv.ocean?.stack ?? 'ocean'
  const n = stackNames(stack)
  const docker = await dockerOn(await connectHost(inv.newHost))
  const api = await inspectContainer(docker, n.ocean)
  if (!api?.State.Running) throw new OpsError('OPS_E_PRECONDITION', `${n.ocean} is not running on the new host; the alert drill needs a serving stack`)
  await ensureSink(docker, stack, api.Config.Image)
  const quiet = await firingAlerts(docker, stack)
  if (!quiet.deployed) throw new OpsError('OPS_E_PRECONDITION', 'the monitoring stack is not deployed (inventory monitoring.enabled is false?)')
  if (quiet.alerts.some((a) => a.name === DRILL_ALERT)) throw new OpsError('OPS_E_PRECONDITION', `${DRILL_ALERT} is already active before the drill: ${JSON.stringify(quiet.alerts)}`)
  const seen = (await notices(docker, stack)).length

  log(`stopping ${n.ocean}: Prometheus's scrape of it fails; ${DRILL_ALERT} must go pending, then fire after its 1 min`)
  const stoppedAt = new Date().toISOString()
  await docker.getContainer(n.ocean).stop({ t: 30 })
  let pendingAt: string | null = null
  let startedAgainAt = ''
  try {
    const firing = await poll(`${DRILL_ALERT} firing`, 180_000, async () => {
      const a = (await firingAlerts(docker, stack)).alerts.find((x) => x.name === DRILL_ALERT)
      if (a?.state === 'pending' && !pendingAt) {
        pendingAt = a.activeAt ?? new Date().toISOString()
        log(`${DRILL_ALERT} pending since ${pendingAt}`)
      }
      return a?.state === 'firing' ? new Date().toISOString() : undefined
    })
    log(`${DRILL_ALERT} firing at ${firing}; waiting for Alertmanager's notification`)
    const notified = await poll('the firing notification at the webhook', 90_000, async () =>
      (await notices(docker, stack)).slice(seen).find((x) => x.status === 'firing' && x.alerts.some((a) => a.name === DRILL_ALERT && a.job === 'ocean')))
    log(`webhook got the firing notification at ${notified.receivedAt}; starting ${n.ocean} again`)
    await docker.getContainer(n.ocean).start()
    startedAgainAt = new Date().toISOString()
    await waitHealthy(docker, n.ocean, 120_000, () => undefined)
    const resolvedAt = await poll(`${DRILL_ALERT} resolved`, 120_000, async () =>
      (await firingAlerts(docker, stack)).alerts.some((x) => x.name === DRILL_ALERT) ? undefined : new Date().toISOString())
    const resolvedNotice = await poll('the resolved notification at the webhook', 120_000, async () =>
      (await notices(docker, stack)).slice(seen).find((x) => x.status === 'resolved' && x.alerts.some((a) => a.name === DRILL_ALERT && a.job === 'ocean')))
    log(`${DRILL_ALERT} resolved at ${resolvedAt}; webhook got the resolved notification at ${resolvedNotice.receivedAt}`)
    return { alert: DRILL_ALERT, stoppedAt, pendingAt, firingAt: firing, notifiedAt: notified.receivedAt, startedAgainAt, resolvedAt, resolvedNotifiedAt: resolvedNotice.receivedAt, ok: true }
  } finally {
    // Whatever happened, the service serves again.
    if (!(await inspectContainer(docker, n.ocean))?.State.Running) {
      await docker.getContainer(n.ocean).start().catch(() => undefined)
      await waitHealthy(docker, n.ocean, 120_000, () => undefined).catch(() => undefined)
    }
  }
}
