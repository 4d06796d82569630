// Multi-process mode: one scrape of /metrics answers for the whole service. The API process that
// got it asks the supervisor (its cluster primary) over IPC; the supervisor asks every API process
// and the engine for their registries, adds them up with prom-client's aggregate (counters,
// histograms and gauges summed unless a metric says otherwise) with its own process metrics, and
// answers. A process that does not answer within 2 s is left out and counted as missing.
import type { ChildProcess } from 'node:child_process'
import client from 'prom-client'
import { PROCESSES_MISSING } from './metrics.ts'

const COLLECT = 'ocean:metrics-collect' // supervisor -> API process or engine
const COLLECTED = 'ocean:metrics-collected' // API process or engine -> supervisor
const SCRAPE = 'ocean:metrics-scrape' // API process -> supervisor
const SCRAPED = 'ocean:metrics-scraped' // supervisor -> API process

type MetricsJson = Awaited<ReturnType<client.Registry['getMetricsAsJSON']>>
type Message =
  | { type: typeof COLLECT; id: number }
  | { type: typeof COLLECTED; id: number; metrics: MetricsJson }
  | { type: typeof SCRAPE; id: number }
  | { type: typeof SCRAPED; id: number; text?: string; error?: string }

function isMessage<T extends Message['type']>(m: unknown, type: T): m is Extract<Message, { type: T }> {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type
}

/** In an API process or the engine: answers the supervisor's requests with this process's registry. */
export function answerCollects(registry: client.Registry): void {
  process.on('message', (m: unknown) => {
    if (!isMessage(m, COLLECT)) return
    void registry.getMetricsAsJSON().then((metrics) => process.send?.({ type: COLLECTED, id: m.id, metrics } satisfies Message))
  })
}

let scrapes = 0

/** In an API process: the whole service's metrics, as the supervisor adds them up. */
export function scrapeService(timeoutMs = 5000): Promise<string> {
  const id = scrapes++
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown) => {
      if (!isMessage(m, SCRAPED) || m.id !== id) return
      done()
      if (m.text !== undefined) resolve(m.text)
      else reject(new Error(`the supervisor could not add up the metrics: ${m.error}`))
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`the supervisor did not answer the metrics scrape within ${timeoutMs} ms`))
    }, timeoutMs)
    const done = () => {
      clearTimeout(timer)
      process.off('message', onMessage)
    }
    process.on('message', onMessage)
    if (!process.send) {
      done()
      reject(new Error('no supervisor: this process has no IPC channel'))
    } else process.send({ type: SCRAPE, id } satisfies Message)
  })
}

let collects = 0

/** One process's registry, or null if it is not connected or does not answer in time. */
function collectFrom(peer: ChildProcess, timeoutMs: number): Promise<MetricsJson | null> {
  const id = collects++
  return new Promise((resolve) => {
    const done = (v: MetricsJson | null) => {
      clearTimeout(timer)
      peer.off('message', onMessage)
      resolve(v)
    }
    const onMessage = (m: unknown) => {
      if (isMessage(m, COLLECTED) && m.id === id) done(m.metrics)
    }
    const timer = setTimeout(() => done(null), timeoutMs)
    peer.on('message', onMessage)
    if (!peer.connected) return done(null)
    peer.send({ type: COLLECT, id } satisfies Message, (err) => err && done(null))
  })
}

export interface ServiceProcesses {
  /** The supervisor's own registry (its CPU and memory are the service's too). */
  own: client.Registry
  /** The engine and API processes alive now. */
  peers(): ChildProcess[]
  /** How many there should be (API processes + the engine): any not answering counts as missing. */
  expected: number
  timeoutMs?: number
}

/** The service's metrics in the Prometheus text format: every process's, added up. */
export async function aggregateService(p: ServiceProcesses): Promise<string> {
  const [own, ...answers] = await Promise.all([p.own.getMetricsAsJSON(), ...p.peers().map((peer) => collectFrom(peer, p.timeoutMs ?? 2000))])
  const got = answers.filter((a): a is MetricsJson => a !== null)
  const registry = client.AggregatorRegistry.aggregate([own, ...got])
  // Each process reports 0 here; what is missing is only known now.
  registry.removeSingleMetric(PROCESSES_MISSING.name)
  new client.Gauge({ ...PROCESSES_MISSING, registers: [registry] }).set(Math.max(0, p.expected - got.length))
  return registry.metrics()
}

/** In the supervisor: answers API processes' scrapes (cluster messages) with the service's metrics. */
export function serveScrapes(cluster: { on(event: 'message', l: (worker: { send(m: unknown): boolean }, m: unknown) => void): unknown }, p: ServiceProcesses): void {
  cluster.on('message', (worker, m) => {
    if (!isMessage(m, SCRAPE)) return
    aggregateService(p).then(
      (text) => worker.send({ type: SCRAPED, id: m.id, text } satisfies Message),
      (e: unknown) => worker.send({ type: SCRAPED, id: m.id, error: String(e) } satisfies Message),
    )
  })
}
