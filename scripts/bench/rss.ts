// Resident memory of a process tree: VmRSS of a root process and every descendant, read from /proc
// and summed, sampled on a timer while a load runs. Pages shared between processes are counted once
// per process, as `ps` does: an upper bound for a cluster of forks; PSS (shared pages split between
// their users) is kept beside it as the fairer figure for a cluster.
import fs from 'node:fs'

function readOr(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return null // the process exited meanwhile
  }
}

/** The fields of a /proc/<pid>/stat line after the command name (field 3 on: state, ppid, ...). The
 * name is in parentheses and may hold spaces and parentheses itself, so it ends at the last ')'. */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** When the process started (clock ticks since boot), or null if it is gone: tells a reused PID apart. */
export function startTime(pid: number): string | null {
  const stat = readOr(`/proc/${pid}/stat`)
  return stat ? (statFields(stat)[19] ?? null) : null
}

/** A process as it was when recorded: its start time tells it apart from a later one reusing the PID. */
export interface ProcessRef {
  pid: number
  start: string | null
}

/** The root and all its descendants, each with its start time. */
export function processTree(root: number): ProcessRef[] {
  return treePids(root).map((pid) => ({ pid, start: startTime(pid) }))
}

/** SIGKILLs each recorded process that is still the same process (never one that reused its PID). */
export function killProcesses(procs: ProcessRef[]): void {
  for (const p of procs) {
    try {
      if (p.start !== null && startTime(p.pid) === p.start) process.kill(p.pid, 'SIGKILL')
    } catch {
      // exited meanwhile
    }
  }
}

/** The root and all its descendants (walks the parent links in /proc/<pid>/stat). */
export function treePids(root: number): number[] {
  const children = new Map<number, number[]>()
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const stat = readOr(`/proc/${name}/stat`)
    const ppid = stat ? Number(statFields(stat)[1]) : NaN
    if (Number.isFinite(ppid)) children.set(ppid, [...(children.get(ppid) ?? []), Number(name)])
  }
  const out: number[] = []
  const queue = [root]
  while (queue.length > 0) {
    const pid = queue.shift() as number
    out.push(pid)
    queue.push(...(children.get(pid) ?? []))
  }
  return out
}

export interface ProcessRss {
  pid: number
  name: string
  kb: number
  pssKb: number
}

export function processRss(pid: number): ProcessRss | null {
  const status = readOr(`/proc/${pid}/status`)
  if (!status) return null
  const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0)
  const role = /(?:^|\0)OCEAN_ROLE=([^\0]*)/.exec(readOr(`/proc/${pid}/environ`) ?? '')?.[1]
  const name = /^Name:\s+(.+)$/m.exec(status)?.[1] ?? '?'
  const pssKb = Number(/^Pss:\s+(\d+)/m.exec(readOr(`/proc/${pid}/smaps_rollup`) ?? '')?.[1] ?? 0)
  return { pid, name: role ? `${name}:${role}` : name, kb, pssKb }
}

export interface RssSummary {
  peakMb: number
  meanMb: number
  pssPeakMb: number
  samples: number
  /** The processes at the peak sample. */
  atPeak: { pid: number; name: string; mb: number }[]
  /** Each process's own highest RSS over the samples (not all at one moment). */
  peakByProcess: { pid: number; name: string; mb: number }[]
}

export class RssSampler {
  private timer: NodeJS.Timeout | null = null
  private peak: ProcessRss[] = []
  private peakKb = 0
  private pssPeakKb = 0
  private sumKb = 0
  private samples = 0
  private readonly processPeakKb = new Map<number, ProcessRss>()

  constructor(
    private readonly root: number,
    private readonly everyMs = 250,
  ) {}

  sample(): void {
    const procs = treePids(this.root)
      .map(processRss)
      .filter((p): p is ProcessRss => p !== null)
    for (const p of procs) if (p.kb > (this.processPeakKb.get(p.pid)?.kb ?? -1)) this.processPeakKb.set(p.pid, p)
    const kb = procs.reduce((s, p) => s + p.kb, 0)
    this.pssPeakKb = Math.max(this.pssPeakKb, procs.reduce((s, p) => s + p.pssKb, 0))
    this.samples++
    this.sumKb += kb
    if (kb > this.peakKb) {
      this.peakKb = kb
      this.peak = procs
    }
  }

  start(): this {
    this.sample()
    this.timer = setInterval(() => this.sample(), this.everyMs)
    return this
  }

  stop(): RssSummary {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.sample()
    const mb = (kb: number) => Math.round(kb / 102.4) / 10
    return {
      peakMb: mb(this.peakKb),
      meanMb: mb(this.sumKb / Math.max(1, this.samples)),
      pssPeakMb: mb(this.pssPeakKb),
      samples: this.samples,
      atPeak: this.peak.map((p) => ({ pid: p.pid, name: p.name, mb: mb(p.kb) })),
      peakByProcess: [...this.processPeakKb.values()].map((p) => ({ pid: p.pid, name: p.name, mb: mb(p.kb) })),
    }
  }
}
