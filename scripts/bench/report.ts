// Benchmark results: one row per figure, with the baseline measured in the same run beside it,
// the ratio, the goal and PASS/MISS; printed as a Markdown table and saved as JSON.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export type Verdict = 'PASS' | 'MISS' | 'info'

export interface Row {
  bench: string
  what: string
  value: number
  unit: string
  baseline?: { name: string; value: number }
  /** Preformatted, e.g. "0.71x" or "7.4x faster". */
  ratio?: string
  goal?: string
  verdict: Verdict
  note?: string
}

export interface Goal {
  text: string
  met: boolean
}

export const atLeast = (value: number, min: number, text: string): Goal => ({ text, met: value >= min })
export const atMost = (value: number, max: number, text: string): Goal => ({ text, met: value <= max })

/** A row for a figure; the verdict follows the goals (all must hold), "info" when there is none. */
export function row(bench: string, what: string, value: number, unit: string, opts: { baseline?: Row['baseline']; ratio?: string; goals?: Goal[]; note?: string } = {}): Row {
  const goals = opts.goals ?? []
  return {
    bench,
    what,
    value,
    unit,
    ...(opts.baseline ? { baseline: opts.baseline } : {}),
    ...(opts.ratio ? { ratio: opts.ratio } : opts.baseline ? { ratio: ratio(value, opts.baseline.value) } : {}),
    ...(goals.length > 0 ? { goal: goals.map((g) => g.text).join('; ') } : {}),
    verdict: goals.length === 0 ? 'info' : goals.every((g) => g.met) ? 'PASS' : 'MISS',
    ...(opts.note ? { note: opts.note } : {}),
  }
}

export function ratio(value: number, baseline: number): string {
  return baseline > 0 ? `${fmt(value / baseline)}x` : 'n/a'
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  const a = Math.abs(n)
  if (a >= 10_000) return Math.round(n).toLocaleString('en-US')
  if (a >= 100) return n.toFixed(0)
  if (a >= 10) return n.toFixed(1)
  return n.toFixed(2)
}

export function markdown(rows: Row[]): string {
  const lines = ['| # | Benchmark | Ocean | Baseline (same run) | Ratio | Goal | Result |', '|---|---|---|---|---|---|---|']
  for (const r of rows) {
    const base = r.baseline ? `${fmt(r.baseline.value)} ${r.unit} (${r.baseline.name})` : '—'
    const note = r.note ? ` — ${r.note}` : ''
    lines.push(`| ${r.bench} | ${r.what}${note} | ${fmt(r.value)} ${r.unit} | ${base} | ${r.ratio ?? '—'} | ${r.goal ?? '—'} | ${r.verdict} |`)
  }
  return lines.join('\n')
}

export interface MachineSample {
  at: string
  loadavg: number[]
}

export const machineSample = (): MachineSample => ({ at: new Date().toISOString(), loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) })

export function machineInfo(): Record<string, unknown> {
  let commit = 'unknown'
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    // not a git checkout
  }
  return { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), commit }
}

export function writeJson(dir: string, data: unknown): string {
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`)
  return file
}

/** What every benchmark module gets from the runner. */
export interface BenchContext {
  quick: boolean
  rows: Row[]
  /** Raw measurements, saved in the JSON file under the benchmark's name. */
  details: Record<string, unknown>
  log(msg: string): void
}
