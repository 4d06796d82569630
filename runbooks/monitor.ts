// `ocean-ops monitor`: Prometheus and Alertmanager are published on the new host's 127.0.0.1
// only; this opens local ports that lead there through the pinned SSH connection (ssh2
// forwardOut, like `ssh -L`), prints the URLs, and keeps them open until interrupted.
import net from 'node:net'
import { OpsError } from '@ocean-ops/common'
import type { SshHost } from './lib/host/ssh-host.ts'
import { ALERTMANAGER_PORT, PROMETHEUS_PORT } from './lib/monitoring/monitoring-spec.ts'

export interface Tunnel {
  name: string
  remotePort: number
  localPort: number
  url: string
}

/** One local listener (127.0.0.1) whose every connection is carried to 127.0.0.1:remotePort on the host. */
async function listen(connect: () => Promise<SshHost>, name: string, remotePort: number, localPort: number): Promise<{ tunnel: Tunnel; server: net.Server }> {
  const server = net.createServer((socket) => {
    // The connection of the moment: a dropped one (the host rebooted, the network blinked) is made again.
    connect().then(
      (host) =>
        host.ssh.forwardOut('127.0.0.1', 0, '127.0.0.1', remotePort, (err, channel) => {
          if (err) {
            socket.destroy()
            return
          }
          socket.pipe(channel).pipe(socket)
          socket.on('error', () => channel.close())
          channel.on('error', () => socket.destroy())
        }),
      () => socket.destroy(),
    )
  })
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject)
    server.listen(localPort, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port))
  })
  return { tunnel: { name, remotePort, localPort: port, url: `http://127.0.0.1:${port}/` }, server }
}

/** Checks the far end answers (a monitoring stack is deployed) before saying the tunnel works. */
async function probe(t: Tunnel): Promise<void> {
  const res = await fetch(`${t.url}-/ready`, { signal: AbortSignal.timeout(5000) }).catch((e: Error) => e)
  if (res instanceof Error || !res.ok) {
    throw new OpsError('OPS_E_REMOTE', `${t.name} does not answer on the new host's 127.0.0.1:${t.remotePort} (${res instanceof Error ? res.message : `HTTP ${res.status}`}): is monitoring deployed? Run \`ocean-ops deploy\` (inventory monitoring.enabled must not be false)`)
  }
}

export async function openMonitorTunnels(connect: () => Promise<SshHost>, ports: { prometheus?: number; alertmanager?: number } = {}): Promise<{ tunnels: Tunnel[]; close(): Promise<void> }> {
  const opened = [
    await listen(connect, 'Prometheus', PROMETHEUS_PORT, ports.prometheus ?? PROMETHEUS_PORT),
    await listen(connect, 'Alertmanager', ALERTMANAGER_PORT, ports.alertmanager ?? ALERTMANAGER_PORT),
  ]
  const close = async () => {
    await Promise.all(opened.map((o) => new Promise((r) => o.server.close(r))))
  }
  try {
    for (const o of opened) await probe(o.tunnel)
  } catch (e) {
    await close()
    throw e
  }
  return { tunnels: opened.map((o) => o.tunnel), close }
}
