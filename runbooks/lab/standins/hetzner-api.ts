// A local stand-in for the Hetzner Cloud API, answering exactly the documented calls the
// runbooks make — GET /v1/floating_ips/{id}, POST /v1/floating_ips/{id}/actions/assign,
// GET /v1/actions/{id} — with the documented shapes and error format. Assigning the floating IP
// repoints a local TCP proxy, so the rehearsal moves real traffic with production's client code.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { HetznerAction } from '../../lib/hetzner/hetzner-client.ts'
import { FloatingProxy, type Backend } from './floating-proxy.ts'

export interface StandinOptions {
  token: string
  floatingIpId: number
  /** The servers the IP can be assigned to: id -> where the proxy sends traffic. */
  servers: Record<number, Backend>
  initialServer?: number
  /** How long an assign action runs before it takes effect (Hetzner: about a second or two). */
  actionMs?: number
}

export class HetznerStandin {
  readonly proxy = new FloatingProxy()
  private server?: http.Server
  private readonly actions = new Map<number, HetznerAction>()
  private nextAction = 1000
  private assigned: number | null
  /** Fault injection: the next assign action ends in this error. */
  failNextAssign?: { code: string; message: string }
  /**
   * Fault injection, one per assign request, in order: `500` answers an internal error and assigns
   * nothing; `hang-applied` assigns (the IP moves) but never answers, so the client times out.
   */
  assignFaults: Array<'500' | 'hang-applied'> = []
  /** Called once an assign has taken effect (a fault test acts at that moment). */
  onAssigned?: (serverId: number) => void
  /** Fault injection: answer the next N requests with this status (429 rate limit, 503...). */
  refuseNext?: { count: number; status: number; code: string }
  readonly calls: string[] = []
  url = ''

  constructor(private readonly opts: StandinOptions) {
    this.assigned = opts.initialServer ?? null
  }

  async start(): Promise<{ url: string; floatingPort: number }> {
    await this.proxy.listen()
    this.proxy.pointTo(this.assigned === null ? undefined : this.opts.servers[this.assigned])
    this.server = http.createServer((req, res) => void this.handle(req, res))
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`
    return { url: this.url, floatingPort: this.proxy.port }
  }

  get assignedServer(): number | null {
    return this.assigned
  }

  async stop(): Promise<void> {
    await this.proxy.close()
    this.server?.closeAllConnections() // a request left hanging by a fault
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json', 'ratelimit-limit': '3600', 'ratelimit-remaining': '3599' })
    res.end(JSON.stringify(body))
  }

  private error(res: http.ServerResponse, status: number, code: string, message: string): void {
    this.send(res, status, { error: { code, message, details: {} } })
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x')
    this.calls.push(`${req.method} ${url.pathname}`)
    if (this.refuseNext && this.refuseNext.count > 0) {
      this.refuseNext.count--
      return this.error(res, this.refuseNext.status, this.refuseNext.code, 'injected fault')
    }
    if (req.headers.authorization !== `Bearer ${this.opts.token}`) return this.error(res, 401, 'unauthorized', 'unable to authenticate')
    let body: Record<string, unknown> = {}
    if (req.method === 'POST') {
      let text = ''
      for await (const c of req) text += c
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {}
      } catch {
        return this.error(res, 400, 'json_error', 'invalid JSON')
      }
    }
    const fip = /^\/v1\/floating_ips\/(\d+)$/.exec(url.pathname)
    const assign = /^\/v1\/floating_ips\/(\d+)\/actions\/assign$/.exec(url.pathname)
    const action = /^\/v1\/actions\/(\d+)$/.exec(url.pathname)
    if (req.method === 'GET' && fip) {
      if (Number(fip[1]) !== this.opts.floatingIpId) return this.error(res, 404, 'not_found', 'Floating IP not found')
      return this.send(res, 200, { floating_ip: this.floatingIp() })
    }
    if (req.method === 'POST' && assign) {
      if (Number(assign[1]) !== this.opts.floatingIpId) return this.error(res, 404, 'not_found', 'Floating IP not found')
      const serverId = Number(body.server)
      if (!Number.isInteger(serverId) || !(serverId in this.opts.servers)) return this.error(res, 400, 'invalid_input', 'invalid input in field \'server\'')
      const fault = this.assignFaults.shift()
      if (fault === '500') return this.error(res, 500, 'server_error', 'injected fault: internal error')
      const action = this.startAssign(serverId)
      if (fault === 'hang-applied') return // no answer: the client's timeout ends the request
      return this.send(res, 201, { action })
    }
    if (req.method === 'GET' && action) {
      const a = this.actions.get(Number(action[1]))
      return a ? this.send(res, 200, { action: a }) : this.error(res, 404, 'not_found', 'action not found')
    }
    return this.error(res, 404, 'not_found', `no such route in the stand-in: ${req.method} ${url.pathname}`)
  }

  private floatingIp() {
    return { id: this.opts.floatingIpId, name: 'ocean-floating', description: 'rehearsal', ip: '127.0.0.1', type: 'ipv4', server: this.assigned, dns_ptr: [], home_location: { name: 'fsn1' }, blocked: false, protection: { delete: false }, labels: {}, created: '2026-01-01T00:00:00+00:00' }
  }

  private startAssign(serverId: number): HetznerAction {
    const a: HetznerAction = {
      id: this.nextAction++,
      command: 'assign_floating_ip',
      status: 'running',
      progress: 0,
      started: new Date().toISOString(),
      finished: null,
      resources: [{ id: this.opts.floatingIpId, type: 'floating_ip' }, { id: serverId, type: 'server' }],
      error: null,
    }
    this.actions.set(a.id, a)
    const fail = this.failNextAssign
    this.failNextAssign = undefined
    setTimeout(() => {
      if (fail) {
        Object.assign(a, { status: 'error', progress: 100, finished: new Date().toISOString(), error: fail })
        return
      }
      this.assigned = serverId
      this.proxy.pointTo(this.opts.servers[serverId])
      Object.assign(a, { status: 'success', progress: 100, finished: new Date().toISOString() })
      this.onAssigned?.(serverId)
    }, this.opts.actionMs ?? 300).unref()
    return a
  }
}
