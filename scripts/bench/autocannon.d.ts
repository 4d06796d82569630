// The part of autocannon 8's API the benchmarks use (the package ships no types).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  export interface Request {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string | Buffer
    setupRequest?: (req: Request, context: Record<string, unknown>) => Request
  }

  export interface Options {
    url: string
    method?: string
    headers?: Record<string, string>
    body?: string | Buffer
    connections?: number
    duration?: number
    amount?: number
    overallRate?: number
    ignoreCoordinatedOmission?: boolean
    timeout?: number
    requests?: Request[]
  }

  export interface Result {
    requests: { average: number; total: number; sent: number }
    latency: { p50: number; p99: number; max: number; average: number }
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    '2xx': number
  }

  export interface Instance extends EventEmitter {
    stop(): void
  }

  function autocannon(opts: Options, cb: (err: Error | null, result: Result) => void): Instance
  export default autocannon
}
