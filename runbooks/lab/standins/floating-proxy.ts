// The rehearsal's "floating IP": a TCP port on 127.0.0.1 whose traffic goes to whichever server
// it is assigned to. Moving it closes open connections, as a real floating IP move does (packets
// of an old connection reach a server that does not know it).
import net from 'node:net'

export interface Backend {
  host: string
  port: number
}

export class FloatingProxy {
  private server?: net.Server
  private backend?: Backend
  private readonly open = new Set<net.Socket>()
  port = 0

  async listen(port = 0): Promise<number> {
    this.server = net.createServer((client) => {
      const b = this.backend
      if (!b) return client.destroy()
      const upstream = net.connect(b.port, b.host)
      this.open.add(client)
      this.open.add(upstream)
      const done = () => {
        client.destroy()
        upstream.destroy()
        this.open.delete(client)
        this.open.delete(upstream)
      }
      client.on('error', done).on('close', done)
      upstream.on('error', done).on('close', done)
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject)
      this.server!.listen(port, '127.0.0.1', () => resolve())
    })
    this.port = (this.server.address() as net.AddressInfo).port
    return this.port
  }

  /** Route new connections to `backend` (undefined: refuse them) and cut the open ones. */
  pointTo(backend: Backend | undefined): void {
    this.backend = backend
    for (const s of this.open) s.destroy()
    this.open.clear()
  }

  get target(): Backend | undefined {
    return this.backend
  }

  async close(): Promise<void> {
    this.pointTo(undefined)
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}
