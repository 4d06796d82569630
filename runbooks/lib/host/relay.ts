// A port on one host's loopback that leads to an address as another host sees it, made only of
// the two pinned SSH connections the runbook already holds: the first host's sshd listens
// (ssh2 forwardIn, 127.0.0.1 only) and every connection it accepts is carried to the second host
// (ssh2 forwardOut). This is how the migration engine, running on the new host, reaches the old
// host's database bound to 127.0.0.1 there: nothing is opened on either host's network, and no
// key is copied onto the new host. The bytes pass through this process (use the private network
// instead when the runbook runs far from both hosts).
import type { ClientChannel } from 'ssh2'
import type { SshHost } from './ssh-host.ts'

export interface Relay {
  /** The port on `via`'s 127.0.0.1. */
  port: number
  close(): Promise<void>
}

export async function openRelay(via: SshHost, to: SshHost, toHost: string, toPort: number): Promise<Relay> {
  const channels = new Set<ClientChannel>()
  const port = await new Promise<number>((resolve, reject) => {
    via.ssh.forwardIn('127.0.0.1', 0, (err, bound) => (err ? reject(err) : resolve(bound)))
  })
  const onConnection = (info: { destIP: string; destPort: number }, accept: () => ClientChannel, reject: () => void) => {
    if (info.destPort !== port) return
    to.ssh.forwardOut('127.0.0.1', 0, toHost, toPort, (err, outbound) => {
      if (err) {
        reject()
        return
      }
      const inbound = accept()
      channels.add(inbound).add(outbound)
      const done = () => {
        channels.delete(inbound)
        channels.delete(outbound)
        inbound.destroy()
        outbound.destroy()
      }
      inbound.pipe(outbound).pipe(inbound)
      inbound.on('close', done).on('error', done)
      outbound.on('close', done).on('error', done)
    })
  }
  via.ssh.on('tcp connection', onConnection)
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        via.ssh.off('tcp connection', onConnection)
        for (const c of channels) c.destroy()
        via.ssh.unforwardIn('127.0.0.1', port, () => resolve())
      }),
  }
}
