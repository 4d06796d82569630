// Post-deploy checks, each named with what was expected and what was found (in the spirit of
// Goss assertions and k6 thresholds). Each returns results; none throws for a failed check.
import net from 'node:net'
import autocannon, { type Result as LoadResult } from 'autocannon'
import type Docker from 'dockerode'

export interface CheckResult {
  name: string
  ok: boolean
  expected: string
  actual: string
  ms: number
}

export interface Target {
  /** Base URL clients use, e.g. http://203.0.113.4:8030 */
  url: string
  apiKey: string
}

async function timed(name: string, expected: string, fn: () => Promise<{ ok: boolean; actual: string }>): Promise<CheckResult> {
  const t0 = performance.now()
  try {
    const r = await fn()
    return { name, expected, ...r, ms: performance.now() - t0 }
  } catch (e) {
    return { name, expected, ok: false, actual: `error: ${(e as Error).message}`, ms: performance.now() - t0 }
  }
}

const auth = (t: Target) => ({ authorization: `Bearer ${t.apiKey}`, 'content-type': 'application/json' })

export async function httpChecks(t: Target): Promise<CheckResult[]> {
  return [
    await timed('http: /health answers 200', '200', async () => {
      const r = await fetch(`${t.url}/health`, { signal: AbortSignal.timeout(5000) })
      return { ok: r.status === 200, actual: String(r.status) }
    }),
    await timed('http: /ready (Redis, SQLite, DuckDB reachable)', '200 with every check ok', async () => {
      const r = await fetch(`${t.url}/ready`, { signal: AbortSignal.timeout(5000) })
      const body = (await r.json()) as { checks?: Record<string, { ok: boolean }> }
      const failed = Object.entries(body.checks ?? {}).filter(([, c]) => !c.ok).map(([k]) => k)
      return { ok: r.status === 200 && failed.length === 0, actual: `${r.status}${failed.length ? ` failing: ${failed.join(', ')}` : ''}` }
    }),
    await timed('http: API key required', '401 without the key', async () => {
      const r = await fetch(`${t.url}/api/ocean/status`, { signal: AbortSignal.timeout(5000) })
      return { ok: r.status === 401, actual: String(r.status) }
    }),
  ]
}

/**
 * End to end: user -> session -> validate -> revoke -> a batch of events visible in analytics within
 * a bound. It writes into the service: a user `verify-<id>` (its session revoked) and the events of
 * sensor `verify-<id>`; `verify --no-smoke` writes nothing.
 */
export async function smokeCheck(t: Target, opts: { events?: number; visibleWithinMs?: number } = {}): Promise<{ result: CheckResult; userId?: number }> {
  const n = opts.events ?? 500
  const bound = opts.visibleWithinMs ?? 30_000
  let userId: number | undefined
  const result = await timed('smoke: user -> session -> validate -> revoke -> ingest -> analytics', `all steps ok; ${n} events visible within ${bound / 1000} s`, async () => {
    const tag = `verify-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`
    const post = async (p: string, body: unknown) => {
      const r = await fetch(`${t.url}${p}`, { method: 'POST', headers: auth(t), body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) })
      return { status: r.status, body: (await r.json()) as Record<string, unknown> }
    }
    const user = await post('/api/ocean/users', { username: tag, email: `${tag}@verify.invalid` })
    if (user.status !== 201) return { ok: false, actual: `create user: ${user.status} ${JSON.stringify(user.body)}` }
    userId = user.body.id as number
    const session = await post('/api/ocean/sessions/create', { user_id: userId, ttl_seconds: 300 })
    if (session.status !== 201) return { ok: false, actual: `create session: ${session.status}` }
    const valid = await post('/api/ocean/sessions/validate', { token: session.body.token })
    if (valid.body.valid !== true || valid.body.user_id !== userId) return { ok: false, actual: `validate: ${JSON.stringify(valid.body)}` }
    // The smoke leaves no credential behind: its session is revoked, and must then be refused.
    const revoked = await post('/api/ocean/sessions/revoke', { token: session.body.token })
    const after = await post('/api/ocean/sessions/validate', { token: session.body.token })
    if (revoked.body.revoked !== true || after.body.valid !== false) return { ok: false, actual: `revoke: ${JSON.stringify(revoked.body)}, then validate: ${JSON.stringify(after.body)}` }
    const now = Date.now()
    const events = Array.from({ length: n }, (_, i) => ({ sensor_id: tag, timestamp: new Date(now - (n - i) * 1000).toISOString(), value: i }))
    const ingest = await post('/api/ocean/telemetry/batch', { events })
    if (ingest.status !== 202) return { ok: false, actual: `ingest: ${ingest.status} ${JSON.stringify(ingest.body)}` }
    const t0 = Date.now()
    let count = 0
    while (Date.now() - t0 < bound) {
      const r = await fetch(`${t.url}/api/ocean/analytics/sensor/${tag}/stats?from=${new Date(now - (n + 60) * 1000).toISOString()}&to=${new Date(now + 60_000).toISOString()}`, { headers: auth(t) })
      count = Number(((await r.json()) as { count?: number }).count ?? 0)
      if (count === n) return { ok: true, actual: `${n} events visible after ${((Date.now() - t0) / 1000).toFixed(1)} s` }
      await new Promise((res) => setTimeout(res, 250))
    }
    return { ok: false, actual: `${count} of ${n} events visible after ${bound / 1000} s` }
  })
  return { result, userId }
}

/** Containers of the stack: running, healthy, and not restarting. */
export async function containerChecks(docker: Docker, stack: string, maxRestarts = 0): Promise<CheckResult[]> {
  const list = await docker.listContainers({ filters: { label: [`ocean-ops.stack=${stack}`] } })
  const results: CheckResult[] = []
  if (list.length < 2) results.push({ name: 'containers: stack running', ok: false, expected: 'redis and api running', actual: `${list.length} running: ${list.map((c) => c.Names.join()).join(' ') || 'none'}`, ms: 0 })
  for (const c of list) {
    const info = await docker.getContainer(c.Id).inspect()
    const name = info.Name.replace(/^\//, '')
    results.push({ name: `containers: ${name} healthy`, ok: info.State.Health?.Status === 'healthy', expected: 'healthy', actual: info.State.Health?.Status ?? info.State.Status, ms: 0 })
    results.push({ name: `containers: ${name} restarts`, ok: info.RestartCount <= maxRestarts, expected: `<= ${maxRestarts}`, actual: String(info.RestartCount), ms: 0 })
  }
  return results
}

/**
 * Memory (RSS) and CPU of each container's processes, from `ps` on the host via `docker top`
 * (cgroup stats are not available on every engine), against the container's memory limit.
 */
export async function resourceChecks(docker: Docker, stack: string, maxMemoryFraction = 0.8): Promise<CheckResult[]> {
  const list = await docker.listContainers({ filters: { label: [`ocean-ops.stack=${stack}`] } })
  const out: CheckResult[] = []
  for (const c of list) {
    const container = docker.getContainer(c.Id)
    const [info, top] = await Promise.all([container.inspect(), container.top({ ps_args: '-o pid,rss,pcpu' }) as Promise<{ Titles: string[]; Processes: string[][] }>])
    const rssCol = top.Titles.findIndex((t) => t.toUpperCase() === 'RSS')
    const cpuCol = top.Titles.findIndex((t) => t.toUpperCase() === '%CPU')
    const rss = top.Processes.reduce((sum, p) => sum + Number(p[rssCol] ?? 0) * 1024, 0)
    const cpu = top.Processes.reduce((sum, p) => sum + Number(p[cpuCol] ?? 0), 0)
    const limit = info.HostConfig.Memory || 0
    const name = info.Name.replace(/^\//, '')
    out.push({
      name: `resources: ${name} memory`,
      ok: rss > 0 && (limit === 0 || rss <= limit * maxMemoryFraction),
      expected: limit ? `<= ${Math.round((limit * maxMemoryFraction) / 1e6)} MB (${maxMemoryFraction * 100}% of its limit)` : 'a memory limit set',
      actual: `${(rss / 1e6).toFixed(0)} MB RSS in ${top.Processes.length} processes, CPU ${cpu.toFixed(1)}% (average since start)`,
      ms: 0,
    })
  }
  return out
}

/** Ports that must not answer from outside the host. */
export async function closedPortChecks(address: string, ports = [3306, 5432, 6379, 2375, 2376]): Promise<CheckResult[]> {
  return Promise.all(
    ports.map((port) =>
      timed(`exposure: ${address}:${port} closed from outside`, 'connection refused or filtered', async () => {
        const open = await new Promise<boolean>((resolve) => {
          const s = net.connect({ host: address, port, timeout: 2000 })
          s.once('connect', () => (s.destroy(), resolve(true)))
          s.once('timeout', () => (s.destroy(), resolve(false)))
          s.once('error', () => resolve(false))
        })
        return { ok: !open, actual: open ? 'OPEN' : 'closed' }
      }),
    ),
  )
}

export interface LoadThresholds {
  seconds: number
  connections: number
  p99Ms: number
  minRps: number
}

/** A short bounded load on a read route, with k6-style thresholds on latency and throughput. */
export async function loadCheck(t: Target, userId: number, th: LoadThresholds): Promise<CheckResult[]> {
  const t0 = performance.now()
  const result = await new Promise<LoadResult>((resolve, reject) => {
    autocannon({ url: `${t.url}/api/ocean/users/${userId}`, headers: auth(t), connections: th.connections, duration: th.seconds, timeout: 5 }, (err, r) => (err ? reject(err) : resolve(r)))
  })
  const ms = performance.now() - t0
  const errors = result.errors + result.timeouts + result.non2xx
  const lat = `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`
  return [
    { name: 'load: latency p99', ok: result.latency.p99 <= th.p99Ms, expected: `<= ${th.p99Ms} ms`, actual: lat, ms },
    { name: 'load: throughput', ok: result.requests.average >= th.minRps, expected: `>= ${th.minRps} req/s`, actual: `${result.requests.average.toFixed(0)} req/s over ${th.seconds} s, ${th.connections} connections`, ms: 0 },
    { name: 'load: errors', ok: errors === 0, expected: '0', actual: `${errors} (errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx})`, ms: 0 },
  ]
}
