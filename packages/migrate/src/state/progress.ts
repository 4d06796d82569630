// Progress of a table's copy: rows done of the estimate, rows/s and the ETA, logged at most once a
// second (an operator watching a 40-minute copy wants to know it moves; a log wants few lines).

export type Log = (line: string) => void

export class TableProgress {
  rows = 0
  private readonly t0 = performance.now()
  private lastLog = performance.now()

  constructor(
    private readonly label: string,
    private readonly estimate: number,
    private readonly log: Log,
    private readonly everyMs = 1000,
  ) {}

  add(n: number): void {
    this.rows += n
    const now = performance.now()
    if (now - this.lastLog >= this.everyMs) {
      this.lastLog = now
      this.log(this.line(now))
    }
  }

  get rate(): number {
    const s = (performance.now() - this.t0) / 1000
    return s > 0 ? this.rows / s : 0
  }

  line(now = performance.now()): string {
    const s = (now - this.t0) / 1000
    const rate = s > 0 ? this.rows / s : 0
    const total = Math.max(this.estimate, this.rows)
    const pct = total > 0 ? ` (${Math.min(100, Math.floor((100 * this.rows) / total))}%)` : ''
    const eta = rate > 0 && total > this.rows ? `, ETA ${fmtSeconds((total - this.rows) / rate)}` : ''
    return `${this.label}: ${this.rows.toLocaleString('en-US')}/${total.toLocaleString('en-US')} rows${pct}, ${Math.round(rate).toLocaleString('en-US')} rows/s${eta}`
  }
}

export function fmtSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`
}
