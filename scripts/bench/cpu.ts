// CPU time of processes while a load runs: user + system time of each process tree, read from
// /proc/<pid>/stat before and after, and the load generator's own (this process). Divided by the
// wall time it tells how many of the machine's cores each side kept busy; divided by the requests
// served, what one request cost the server. On a machine whose cores the load generator and the
// servers share, that is what explains a ratio to a baseline.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { statFields, treePids } from './rss.ts'

/** Clock ticks per second of /proc's times (sysconf(_SC_CLK_TCK)); 100 on Linux unless told otherwise. */
const TICKS_PER_S = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** utime + stime (fields 14 and 15) of a /proc/<pid>/stat line, in clock ticks. */
export function cpuTicksOfStat(stat: string): number {
  const fields = statFields(stat)
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`not a /proc/<pid>/stat line: ${stat.slice(0, 80)}`)
  return utime + stime
}

function cpuMsOf(pid: number): number {
  try {
    return (cpuTicksOfStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')) * 1000) / TICKS_PER_S
  } catch {
    return 0 // exited meanwhile
  }
}

export interface CpuUse {
  /** CPU time over the measured span, ms. */
  ms: number
  /** Cores kept busy on average: ms / wall ms. */
  cores: number
}

/** Measures the CPU of named process trees and of this process (the load generator) over a span. */
export class CpuMeter {
  private readonly before = new Map<number, number>()
  private self = process.cpuUsage()
  private t0 = performance.now()

  constructor(private readonly roots: Record<string, number>) {}

  start(): this {
    for (const root of Object.values(this.roots)) for (const pid of treePids(root)) this.before.set(pid, cpuMsOf(pid))
    this.self = process.cpuUsage()
    this.t0 = performance.now()
    return this
  }

  /** Each tree's use (processes started meanwhile counted from zero) and the load generator's. */
  stop(): Record<string, CpuUse> & { loadGenerator: CpuUse } {
    const wall = performance.now() - this.t0
    const self = process.cpuUsage(this.self)
    const use = (ms: number): CpuUse => ({ ms: Math.round(ms), cores: Math.round((ms / wall) * 100) / 100 })
    const out: Record<string, CpuUse> = {}
    for (const [name, root] of Object.entries(this.roots)) {
      out[name] = use(treePids(root).reduce((s, pid) => s + Math.max(0, cpuMsOf(pid) - (this.before.get(pid) ?? 0)), 0))
    }
    return { ...out, loadGenerator: use((self.user + self.system) / 1000) }
  }
}

/** "ocean 1.04, redis 0.05, load generator 0.50": cores each side kept busy. */
export function describeCores(use: Record<string, CpuUse>): string {
  return Object.entries(use)
    .map(([name, u]) => `${name === 'loadGenerator' ? 'load generator' : name} ${u.cores.toFixed(2)}`)
    .join(', ')
}
