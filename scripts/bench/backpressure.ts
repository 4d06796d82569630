// Benchmark 10: backpressure. Ocean as its image runs it (2 API processes + engine) with a bound of
// BOUND unstored events, loaded with batches at about twice the rate its worker stores them. The
// bound must hold Redis near the memory that BOUND events take (not grow toward maxmemory), the
// overflow must be 429s (no 5xx), and after the drain every accepted event must be in DuckDB.
import { Redis } from 'ioredis'
import { childRoles } from '../../test/helpers/ocean-process.ts'
import { load } from './http-load.ts'
import { acceptedEvents, AUTH, startOcean, storedRows, waitForRows, type OceanInstance } from './processes.ts'
import { atMost, fmt, row, type BenchContext } from './report.ts'
import { trimEveryEvents } from '../../services/ocean/src/worker/trim-policy.ts'

const BOUND = 200_000
const BATCH = 500
const CONNECTIONS = 20
/** Events ingested with the worker stopped, then timed while it stores them: the storage rate. */
const CALIBRATION = 150_000

const batchBody = JSON.stringify({ events: Array.from({ length: BATCH }, (_, i) => ({ sensor_id: `bp-${i % 50}`, value: i })) })

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1])
}

/** Ingests `events` with the engine stopped, then times the worker storing them: events/s. */
async function storageRate(ocean: OceanInstance, redis: Redis, engine: number): Promise<{ rate: number; bytesPerEvent: number }> {
  const empty = await usedMemory(redis)
  process.kill(engine, 'SIGSTOP')
  try {
    for (let sent = 0; sent < CALIBRATION; sent += BATCH) await ocean.post('/telemetry/batch', JSON.parse(batchBody))
  } finally {
    process.kill(engine, 'SIGCONT')
  }
  const bytesPerEvent = (await usedMemory(redis)) - empty
  const t0 = performance.now()
  const done = await waitForRows(ocean, CALIBRATION, 120_000, 20)
  return { rate: CALIBRATION / ((done - t0) / 1000), bytesPerEvent: bytesPerEvent / CALIBRATION }
}

export async function backpressureBench(ctx: BenchContext): Promise<void> {
  const durationS = ctx.quick ? 15 : 60
  const ocean = await startOcean(2, { env: { OCEAN_BACKLOG_MAX_EVENTS: String(BOUND) } })
  const redis = new Redis(ocean.redis.url)
  try {
    const engine = childRoles(ocean.pid).find((c) => c.role === 'engine')
    if (!engine) throw new Error('no engine process under the supervisor')
    const { rate, bytesPerEvent } = await storageRate(ocean, redis, engine.pid)
    const baseMemory = await usedMemory(redis)
    const expected = baseMemory + BOUND * bytesPerEvent
    const overallRate = Math.max(1, Math.round((2 * rate) / BATCH))
    ctx.log(`10: storage rate ${fmt(rate)} events/s, ${fmt(bytesPerEvent)} B/event in Redis; loading ${overallRate} batches/s of ${BATCH} (${fmt(overallRate * BATCH)} events/s) for ${durationS} s`)

    let peak = baseMemory
    let peakBacklog = 0
    const sample = async () => {
      const [m, [a, p]] = await Promise.all([usedMemory(redis), redis.mget('ocean:telemetry:accepted', 'ocean:telemetry:processed')])
      peak = Math.max(peak, m)
      peakBacklog = Math.max(peakBacklog, Number(a ?? 0) - Number(p ?? 0))
    }
    const sampler = setInterval(() => void sample().catch(() => undefined), 50)
    const before = await acceptedEvents(ocean)
    let r
    try {
      r = await load({ url: `${ocean.base}/api/ocean/telemetry/batch`, method: 'POST', headers: AUTH, body: batchBody, connections: CONNECTIONS, durationS, overallRate })
    } finally {
      clearInterval(sampler)
    }
    peak = Math.max(peak, await usedMemory(redis))
    await new Promise((res) => setTimeout(res, 500)) // requests in flight when the load stopped still finish
    const accepted = (await acceptedEvents(ocean)) - before
    const ok = r.statuses[202] ?? 0
    const refused = r.statuses[429] ?? 0
    const fivexx = Object.entries(r.statuses).reduce((n, [s, c]) => (Number(s) >= 500 ? n + c : n), 0)
    const other = r.requests - ok - refused - fivexx
    const backlog = (await storedRows(ocean)).backlog
    const stopped = performance.now()
    await waitForRows(ocean, CALIBRATION + accepted, 180_000, 100).catch((e: Error) => ctx.log(`  ${e.message}`))
    const drainS = (performance.now() - stopped) / 1000
    const stored = (await storedRows(ocean)).rows - CALIBRATION
    // The worker trims stored entries once a second or every trimEveryEvents(bound) events acknowledged,
    // whichever comes first: Redis also holds up to that many stored events.
    const trimLag = Math.min(rate, trimEveryEvents(BOUND)) * bytesPerEvent
    const withoutBound = baseMemory + Math.max(0, (overallRate * BATCH - rate) * durationS) * bytesPerEvent
    ctx.log(
      `  ${r.requests} requests: ${ok} 202, ${refused} 429, ${fivexx} 5xx, ${other} other, ${r.errors} errors; Redis peak ${fmt(peak / 2 ** 20)} MB (expected at the bound ${fmt(expected / 2 ** 20)} MB); accepted ${accepted}, stored ${stored} after a ${drainS.toFixed(1)} s drain`,
    )
    const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10
    ctx.rows.push(
      row('10', `backpressure: Redis used_memory peak at 2x the storage rate, bound ${BOUND} events`, mb(peak), 'MB', {
        baseline: { name: `bound's expected size (${fmt(bytesPerEvent)} B/event)`, value: mb(expected) },
        goals: [atMost(peak, 2 * expected, '≤ 2x expected')],
        note: `load ${fmt(overallRate * BATCH)} events/s vs storage ${fmt(rate)} events/s for ${durationS} s; without a bound Redis would reach ~${fmt(mb(withoutBound))} MB; stored entries wait for the next trim (up to ~${fmt(mb(trimLag))} MB here)`,
      }),
      row('10', 'backpressure: unstored backlog peak', peakBacklog, 'events', {
        baseline: { name: 'bound', value: BOUND },
        goals: [atMost(peakBacklog, 1.5 * BOUND, '≤ 1.5x bound')],
        note: `sampled every 50 ms; past the bound by the batches in flight when it was reached (each API process sees the accepted count every addition returns; the stored count every 250 ms)`,
      }),
      row('10', 'backpressure: 5xx answers', fivexx, 'answers', { goals: [atMost(fivexx, 0, '0')], note: `${r.errors} connection errors, ${r.timeouts} timeouts, ${other} other non-202/429` }),
      row('10', 'backpressure: 429 answers', refused, 'answers', {
        baseline: { name: '202 answers', value: ok },
        note: `${fmt((refused / Math.max(1, r.requests)) * 100)} % of ${r.requests} requests refused`,
      }),
      row('10', 'backpressure: stored after the drain', stored, 'events', {
        baseline: { name: 'accepted (202)', value: accepted },
        goals: [{ text: '= accepted (0 lost, 0 twice)', met: stored === accepted }],
        note: `accepted: the service's count; backlog ${backlog} events when the load stopped, drained in ${drainS.toFixed(1)} s; 202s the load generator saw x ${BATCH} = ${ok * BATCH} (requests in flight when it stopped are not in its count)`,
      }),
    )
    ctx.details.backpressure = { bound: BOUND, batch: BATCH, storageRate: rate, bytesPerEvent, overallRate, load: r, peak, peakBacklog, expected, baseMemory, accepted, stored, backlog, drainS }
  } finally {
    redis.disconnect()
    await ocean.stop()
  }
}
