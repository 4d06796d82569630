// A local TCP port that leads, through the host's pinned SSH connection, to an address as the
// host sees it (ssh2 forwardOut) — how the runbooks reach databases bound to the old host's
// loopback without exposing them, and without the data crossing anything but SSH.
import net from 'node:net'
import type { SshHost } from './ssh-host.ts'

export interface Tunnel {
  port: number
  close(): Promise<void>
}

export async function openTunnel(host: SshHost, remoteHost: string, remotePort: number): Promise<Tunnel> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    host.ssh.forwardOut('127.0.0.1', 0, remoteHost, remotePort, (err, channel) => {
      if (err) {
        socket.destroy()
        return
      }
      socket.pipe(channel).pipe(socket)
      channel.on('error', () => socket.destroy())
      socket.on('error', () => channel.close())
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
