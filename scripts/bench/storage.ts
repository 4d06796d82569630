// Benchmark 11: the sustained storage rate. Ocean as its image runs it (2 API processes + engine):
// TOTAL events are accepted over HTTP while the engine is stopped (SIGSTOP), so the worker then
// finds a backlog and stores it as fast as it can, compaction included (sealing sorted partitions
// and merging them); timed from SIGCONT until the worker has acknowledged every event (it does so
// only after DuckDB committed them; polled in Redis, so the poll costs the engine nothing), then
// checked exactly in DuckDB (accepted = stored, no duplicate). Baseline in the same run, before and after: the DuckDB appender
// alone, the same rows into a table of the same shape, one transaction per 20,000 rows.
import { Redis } from 'ioredis'
import { childRoles } from '../../test/helpers/ocean-process.ts'
import { appenderAlone, makeBatches, type Batches } from './batch.ts'
import { acceptedEvents, AUTH, startOcean, storedRows, waitForRows, type OceanInstance } from './processes.ts'
import { atLeast, atMost, fmt, row, type BenchContext } from './report.ts'

const CLIENTS = 4

async function post(url: string, body: Buffer): Promise<number> {
  const res = await fetch(url, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(30_000) })
  const text = await res.text()
  if (res.status !== 202) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`)
  return (JSON.parse(text) as { accepted: number }).accepted
}

/**
 * Accepts every batch over HTTP while the engine is stopped (SIGSTOP), so that the worker then finds
 * a backlog, and lets it store it (SIGCONT). Resolves once the worker has acknowledged every event
 * (it does so only after DuckDB committed them; polled in Redis, so the poll costs the engine
 * nothing), to the seconds storing took. `ocean` must be fresh (nothing accepted before).
 */
export async function storeBacklog(ocean: OceanInstance, batches: Batches): Promise<number> {
  const engine = childRoles(ocean.pid).find((c) => c.role === 'engine')
  if (!engine) throw new Error('no engine process under the supervisor')
  const url = `${ocean.base}/api/ocean/telemetry/batch`
  process.kill(engine.pid, 'SIGSTOP')
  try {
    let next = 0
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < batches.bodies.length) await post(url, batches.bodies[next++] as Buffer)
      }),
    )
  } finally {
    process.kill(engine.pid, 'SIGCONT')
  }
  const t0 = performance.now()
  const redis = new Redis(ocean.redis.url)
  try {
    for (const deadline = Date.now() + 300_000; Number(await redis.get('ocean:telemetry:processed')) < batches.total; await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() > deadline) throw new Error(`the worker stored ${await redis.get('ocean:telemetry:processed')} of ${batches.total} events in 300 s`)
    }
  } finally {
    redis.disconnect()
  }
  return (performance.now() - t0) / 1000
}

export async function storageRateBench(ctx: BenchContext): Promise<void> {
  const total = ctx.quick ? 300_000 : 1_500_000
  const batches = makeBatches(total)
  ctx.log(`11: baseline: DuckDB appender alone, ${fmt(total)} rows`)
  const before = (total / (await appenderAlone(batches))) * 1000
  ctx.log(`  ${fmt(before)} rows/s`)

  const ocean = await startOcean(2)
  let rate: number
  let seconds: number
  let exact: { accepted: number; stored: number; dead: number }
  let layout: unknown
  try {
    ctx.log(`11: accepting ${fmt(total)} events with the engine stopped, then storing them`)
    seconds = await storeBacklog(ocean, batches)
    await waitForRows(ocean, total, 10_000, 100)
    rate = total / seconds
    await new Promise((r) => setTimeout(r, 1000)) // a duplicate stored late would show now
    const after = await storedRows(ocean)
    exact = { accepted: await acceptedEvents(ocean), stored: after.rows, dead: after.dead }
    layout = (await ocean.get<{ telemetry: unknown }>('/status')).telemetry
  } finally {
    await ocean.stop()
  }
  ctx.log(`  ${fmt(rate)} events/s (${seconds.toFixed(2)} s); accepted ${exact.accepted}, stored ${exact.stored}, dead-lettered ${exact.dead}; ${JSON.stringify(layout)}`)
  ctx.log('11: baseline again: DuckDB appender alone')
  const again = (total / (await appenderAlone(batches))) * 1000
  const baseline = (before + again) / 2
  ctx.log(`  ${fmt(again)} rows/s (mean of both: ${fmt(baseline)})`)
  const wrong = Math.abs(exact.accepted - total) + Math.abs(exact.stored - total) + exact.dead
  ctx.rows.push(
    row('11', 'sustained storage rate vs appender alone', rate, 'events/s', {
      baseline: { name: 'DuckDB appender alone (mean of before and after)', value: baseline },
      goals: [atLeast(rate, 0.7 * baseline, '≥ 0.7x appender alone'), atMost(wrong, 0, 'accepted = stored, exactly once')],
      note: `${fmt(total)} events stored from a backlog in ${seconds.toFixed(2)} s by the engine of 2 API + engine, compaction included; appender alone ${fmt(before)} before, ${fmt(again)} after; stored ${fmt(exact.stored)} of ${fmt(exact.accepted)} accepted`,
    }),
  )
  ctx.details.storage_rate = { total, seconds, rate, appender: { before, after: again }, exact, layout }
}
