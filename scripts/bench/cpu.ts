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

/**
 * The CPU of a process and of the children it has reaped (utime + stime + cutime + cstime, fields
 * 14-17) from a /proc/<pid>/stat line, in clock ticks. Counting reaped children keeps what a process
 * that exited during a measure used: PostgreSQL's backend ends with its connection, and the postmaster
 * reaps it.
 */
export function cpuTicksOfStat(stat: string): number {
  return ticksOf(stat, 11, 15)
}

/** The sum of the clock-tick fields [from, to) after the command name (statFields' indexes). */
function ticksOf(stat: string, from: number, to: number): number {
  const ticks = statFields(stat).slice(from, to).map(Number)
  if (ticks.length !== to - from || !ticks.every(Number.isFinite)) throw new Error(`not a /proc/<pid>/stat line: ${stat.slice(0, 80)}`)
  return ticks.reduce((a, b) => a + b, 0)
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

/** This process's reaped children's CPU (cutime + cstime, fields 16 and 17), ms. */
function reapedChildrenMs(): number {
  return (ticksOf(fs.readFileSync('/proc/self/stat', 'utf8'), 13, 15) * 1000) / TICKS_PER_S
}

/**
 * Measures, over a span, the CPU of named process trees, of this process (named `selfName`: the load
 * generator, or the engine when it runs in this process), and of the children this process started
 * and reaped meanwhile ("children": e.g. a shell pipeline's psql and sqlite3).
 */
export class CpuMeter {
  private readonly before = new Map<number, number>()
  private self = process.cpuUsage()
  private children = 0
  private t0 = performance.now()

  constructor(
    private readonly roots: Record<string, number>,
    private readonly selfName = 'load generator',
  ) {}

  start(): this {
    for (const root of Object.values(this.roots)) for (const pid of treePids(root)) this.before.set(pid, cpuMsOf(pid))
    this.self = process.cpuUsage()
    this.children = reapedChildrenMs()
    this.t0 = performance.now()
    return this
  }

  /**
   * Each tree's use (processes started meanwhile counted from zero; one that ended meanwhile through its
   * parent's reaped-children time, whole), this process's, and that of children it reaped meanwhile.
   */
  stop(): Record<string, CpuUse> {
    const wall = performance.now() - this.t0
    const self = process.cpuUsage(this.self)
    const use = (ms: number): CpuUse => ({ ms: Math.round(ms), cores: Math.round((ms / wall) * 100) / 100 })
    const out: Record<string, CpuUse> = {}
    for (const [name, root] of Object.entries(this.roots)) {
      out[name] = use(treePids(root).reduce((s, pid) => s + Math.max(0, cpuMsOf(pid) - (this.before.get(pid) ?? 0)), 0))
    }
    out[this.selfName] = use((self.user + self.system) / 1000)
    const children = reapedChildrenMs() - this.children
    if (children > 0) out.children = use(children)
    return out
  }
}

/** All the CPU a span used, ms. */
export const totalCpuMs = (use: Record<string, CpuUse>): number => Object.values(use).reduce((s, u) => s + u.ms, 0)

/** "ocean 1.04, redis 0.05, load generator 0.50": cores each side kept busy. */
export function describeCores(use: Record<string, CpuUse>): string {
  return Object.entries(use)
    .map(([name, u]) => `${name} ${u.cores.toFixed(2)}`)
    .join(', ')
}
