// Benchmark 12: lean processes at the new server's layout. Ocean with 7 API processes + engine (the
// 8-core shape; the processes' memory does not depend on the cores they run on), loaded with single
// events on 50 connections and, beside them, batches that keep the engine storing. Each process's
// RSS is sampled every 250 ms; the rows are the largest API process, the engine and the sum over
// every process (the supervisor included) at its peak. Baseline in the same run: a bare node:http
// hello-world run with the image's flags (4 MB semi-space, one malloc arena) under the same load,
// the floor for any Node process answering HTTP.
import { spawn } from 'node:child_process'
import { freePort } from '../lib/loopback-servers.ts'
import { NODE_FLAGS, RUNTIME_ENV } from '../../services/ocean/runtime.ts'
import { load } from './http-load.ts'
import { AUTH, startOcean, terminate, track } from './processes.ts'
import { atMost, fmt, row, type BenchContext } from './report.ts'
import { processRss, treePids } from './rss.ts'

const API_PROCESSES = 7
const CONNECTIONS = 50
const EVENT = JSON.stringify({ sensor_id: 'sensor-0001', value: 21.5 })
const BATCH = JSON.stringify({ events: Array.from({ length: 1000 }, (_, i) => ({ sensor_id: `lean-${i % 100}`, value: i })) })
const HELLO = `require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => { s.setHeader('content-type', 'application/json'); s.end('{"hello":"world"}') }) }).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'))`

/** Largest RSS each process reached, by role, and the largest sum over all of them at one sample. */
class RoleRss {
  private timer: NodeJS.Timeout | null = null
  readonly peakByPid = new Map<number, { role: string; mb: number }>()
  peakTotalMb = 0

  constructor(private readonly root: number) {}

  private sample(): void {
    let total = 0
    for (const pid of treePids(this.root)) {
      const p = processRss(pid)
      if (!p) continue
      const mb = p.kb / 1024
      total += mb
      const role = pid === this.root ? 'supervisor' : (p.name.split(':')[1] ?? p.name)
      const prev = this.peakByPid.get(pid)
      if (!prev || mb > prev.mb) this.peakByPid.set(pid, { role, mb })
    }
    this.peakTotalMb = Math.max(this.peakTotalMb, total)
  }

  start(): this {
    this.sample()
    this.timer = setInterval(() => this.sample(), 250)
    return this
  }

  stop(): this {
    if (this.timer) clearInterval(this.timer)
    this.sample()
    return this
  }

  max(role: string): number {
    return Math.max(0, ...[...this.peakByPid.values()].filter((p) => p.role === role).map((p) => p.mb))
  }

  count(role: string): number {
    return [...this.peakByPid.values()].filter((p) => p.role === role).length
  }
}

async function helloWorldRss(durationS: number): Promise<number> {
  const port = await freePort()
  const child = spawn(process.execPath, [...NODE_FLAGS, '-e', HELLO], { env: { ...process.env, ...RUNTIME_ENV, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise((r) => child.once('exit', r))
  const stop = track(() => terminate(child.pid as number, exited))
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve())
      child.once('exit', (code) => reject(new Error(`hello-world exited with ${code}`)))
    })
    const rss = new RoleRss(child.pid as number).start()
    await load({ url: `http://127.0.0.1:${port}/`, method: 'POST', body: EVENT, connections: CONNECTIONS, durationS })
    return rss.stop().max('supervisor')
  } finally {
    await stop()
  }
}

export async function leanProcessesBench(ctx: BenchContext): Promise<void> {
  const durationS = ctx.quick ? 5 : 15
  ctx.log(`12: baseline: bare node:http hello-world with the image's flags, ${CONNECTIONS} connections, ${durationS} s`)
  const hello = await helloWorldRss(durationS)
  ctx.log(`  RSS peak ${hello.toFixed(1)} MB`)
  ctx.log(`12: Ocean, ${API_PROCESSES} API processes + engine: single events on ${CONNECTIONS} connections and batches of 1000 on 2, ${durationS} s`)
  const ocean = await startOcean(API_PROCESSES)
  let rss: RoleRss
  let single
  let batches
  try {
    rss = new RoleRss(ocean.pid).start()
    ;[single, batches] = await Promise.all([
      load({ url: `${ocean.base}/api/ocean/telemetry/ingest`, method: 'POST', headers: AUTH, body: EVENT, connections: CONNECTIONS, durationS }),
      load({ url: `${ocean.base}/api/ocean/telemetry/batch`, method: 'POST', headers: AUTH, body: BATCH, connections: 2, durationS }),
    ])
    rss.stop()
  } finally {
    await ocean.stop()
  }
  const api = rss.max('api')
  const engine = rss.max('engine')
  const supervisor = rss.max('supervisor')
  const apis = rss.count('api')
  const loadNote = `${fmt(single.rps)} single events/s (${single.non2xx} non-2xx) and ${fmt(batches.rps * 1000)} batched events/s (${batches.non2xx} non-2xx)`
  ctx.log(`  largest API process ${api.toFixed(1)} MB, engine ${engine.toFixed(1)} MB, supervisor ${supervisor.toFixed(1)} MB, all ${rss.peakTotalMb.toFixed(1)} MB; ${loadNote}`)
  if (apis !== API_PROCESSES) throw new Error(`sampled ${apis} API processes, expected ${API_PROCESSES}`)
  const baseline = { name: 'bare node:http hello-world, same flags and load', value: hello }
  ctx.rows.push(
    row('12', `lean processes: largest of ${API_PROCESSES} API processes, RSS peak under load`, api, 'MB', { baseline, goals: [atMost(api, 80, '≤ 80 MB')], note: loadNote }),
    row('12', 'lean processes: engine RSS peak while storing', engine, 'MB', { baseline, goals: [atMost(engine, 250, '≤ 250 MB')] }),
    row('12', `lean processes: ${API_PROCESSES} API + engine + supervisor, RSS sum at its peak`, rss.peakTotalMb, 'MB', {
      baseline: { name: `${API_PROCESSES + 2} x hello-world`, value: hello * (API_PROCESSES + 2) },
      goals: [atMost(rss.peakTotalMb, 800, '≤ 800 MB')],
      note: `supervisor ${supervisor.toFixed(1)} MB; RSS counts the pages the processes share (the node binary's) once per process`,
    }),
  )
  ctx.details.lean_processes = { hello, api, engine, supervisor, totalMb: rss.peakTotalMb, perProcess: Object.fromEntries(rss.peakByPid), single, batches }
}
