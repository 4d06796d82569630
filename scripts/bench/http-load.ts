// Bounded HTTP load with autocannon, latency kept per response with sub-millisecond precision
// (autocannon's own histogram rounds to whole milliseconds, too coarse for a 2 ms goal).
import autocannon, { type Request, type Result } from 'autocannon'

export interface LoadOptions {
  url: string
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  connections: number
  durationS: number
  /** Requests per second over all connections; omitted = as fast as the server answers. */
  overallRate?: number
  /** Varies each request (e.g. a different user id); runs in the load generator. */
  setupRequest?: (req: Request) => Request
}

export interface LoadResult {
  requests: number
  rps: number
  p50: number
  p99: number
  max: number
  non2xx: number
  errors: number
  timeouts: number
  durationS: number
  /** Responses by HTTP status. */
  statuses: Record<number, number>
}

/** Latency percentiles of the samples in milliseconds (nearest rank). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i] as number
}

export function median(xs: number[]): number {
  return percentile(Float64Array.from(xs).sort(), 50)
}

export async function load(opts: LoadOptions): Promise<LoadResult> {
  const headers = { ...(opts.body ? { 'content-type': 'application/json' } : {}), ...opts.headers }
  let lat = new Float64Array(1 << 16)
  let n = 0
  const statuses: Record<number, number> = {}
  const result = await new Promise<Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        method: opts.method ?? 'GET',
        headers,
        ...(opts.body ? { body: opts.body } : {}),
        connections: opts.connections,
        duration: opts.durationS,
        timeout: 10,
        ...(opts.overallRate
          ? // autocannon "corrects" latencies under a rate with a 1 ms expected interval whatever the
            // rate; that invents samples. The raw latencies are reported instead (see README note).
            { overallRate: opts.overallRate, ignoreCoordinatedOmission: true }
          : {}),
        ...(opts.setupRequest ? { requests: [{ setupRequest: opts.setupRequest }] } : {}),
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    )
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      statuses[status] = (statuses[status] ?? 0) + 1
      if (status < 200 || status >= 300) return
      if (n === lat.length) {
        const grown = new Float64Array(lat.length * 2)
        grown.set(lat)
        lat = grown
      }
      lat[n++] = ms
    })
  })
  const sorted = lat.subarray(0, n).sort()
  return {
    requests: result.requests.total,
    rps: result.requests.total / result.duration,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: percentile(sorted, 100),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
    statuses,
  }
}
