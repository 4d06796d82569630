// The few Hetzner Cloud API calls the runbooks make (floating IPs and actions), with the
// documented error format, rate-limit handling and action polling. The endpoint is
// configurable so the rehearsal's local stand-in is driven by this very code.
import { OpsError } from '@ocean-ops/common'

export const HETZNER_API = 'https://api.hetzner.cloud/v1'

export interface HetznerAction {
  id: number
  command: string
  status: 'running' | 'success' | 'error'
  progress: number
  started: string
  finished: string | null
  resources: Array<{ id: number; type: string }>
  error: { code: string; message: string } | null
}

export interface FloatingIp {
  id: number
  name: string
  ip: string
  type: 'ipv4' | 'ipv6'
  server: number | null
  home_location: { name: string }
  blocked: boolean
}

export interface HetznerClientOptions {
  token: string
  endpoint?: string
  /** Attempts for 429, 5xx and network errors (never for 4xx answers that mean "no"). */
  attempts?: number
  fetchImpl?: typeof fetch
}

export class HetznerClient {
  private readonly endpoint: string
  constructor(private readonly opts: HetznerClientOptions) {
    this.endpoint = (opts.endpoint ?? HETZNER_API).replace(/\/$/, '')
  }

  async getFloatingIp(id: number): Promise<FloatingIp> {
    return (await this.request<{ floating_ip: FloatingIp }>('GET', `/floating_ips/${id}`)).floating_ip
  }

  /** Assign the floating IP to a server; returns the running action (see waitForAction). */
  async assignFloatingIp(id: number, serverId: number): Promise<HetznerAction> {
    return (await this.request<{ action: HetznerAction }>('POST', `/floating_ips/${id}/actions/assign`, { server: serverId })).action
  }

  async getAction(id: number): Promise<HetznerAction> {
    return (await this.request<{ action: HetznerAction }>('GET', `/actions/${id}`)).action
  }

  /** Poll an action until it succeeds; an action that ends in error is thrown with its code. */
  async waitForAction(action: HetznerAction, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<HetznerAction> {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000)
    let a = action
    while (a.status === 'running') {
      if (Date.now() > deadline) throw new OpsError('OPS_E_HETZNER', `Hetzner action ${a.id} (${a.command}) still running after ${(opts.timeoutMs ?? 60_000) / 1000} s; check it in the console before retrying`)
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500))
      a = await this.getAction(a.id)
    }
    if (a.status === 'error') throw new OpsError('OPS_E_HETZNER', `Hetzner action ${a.id} (${a.command}) failed: ${a.error?.code}: ${a.error?.message}`)
    return a
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const attempts = this.opts.attempts ?? 5
    const doFetch = this.opts.fetchImpl ?? fetch
    for (let attempt = 1; ; attempt++) {
      let res: Response
      try {
        res = await doFetch(`${this.endpoint}${path}`, {
          method,
          headers: { authorization: `Bearer ${this.opts.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(15_000),
        })
      } catch (e) {
        if (attempt >= attempts) throw new OpsError('OPS_E_HETZNER', `Hetzner API ${method} ${path} unreachable: ${(e as Error).message}`)
        await backoff(attempt)
        continue
      }
      if (res.ok) return (await res.json()) as T
      const err = ((await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } }).error ?? {}
      const retryable = res.status === 429 || res.status >= 500 || err.code === 'locked'
      if (retryable && attempt < attempts) {
        const reset = Number(res.headers.get('ratelimit-reset'))
        await (res.status === 429 && reset ? new Promise((r) => setTimeout(r, Math.min(30_000, Math.max(0, reset * 1000 - Date.now())))) : backoff(attempt))
        continue
      }
      const hint = res.status === 401 ? ' (check the API token and that it is read/write)' : res.status === 404 ? ' (check the id in the inventory)' : ''
      throw new OpsError('OPS_E_HETZNER', `Hetzner API ${method} ${path}: ${res.status} ${err.code ?? ''}: ${err.message ?? res.statusText}${hint}`)
    }
  }
}

function backoff(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.min(8000, 250 * 2 ** attempt)))
}
