// The frame every runbook runs in: a lock, a journaled run, and steps. A runbook is a list of
// `rb.step(...)` calls read top to bottom. Each step is journaled (start, end, result);
// mutating steps only print what they would do under --plan; destructive steps need --yes or
// an answered prompt; with --resume, mutating steps that ended ok in the interrupted run are skipped.
import { question } from 'zx'
import { Journal } from './journal/journal.ts'
import { OpsError, isOpsError } from '@ocean-ops/common'

export type Log = (line: string) => void

export interface RunbookOptions {
  journalPath: string
  plan?: boolean
  yes?: boolean
  /** Continue the last unfinished run of this runbook, skipping its completed steps. */
  resume?: boolean
  breakLock?: boolean
  inputs?: Record<string, unknown>
  log?: Log
  /** Ask on a terminal when a destructive step lacks --yes (default: when stdin is a TTY). */
  interactive?: boolean
  lockTtlMs?: number
}

export interface StepOptions {
  /** Changes something (skipped under --plan). Read-only steps run in plan mode too, to inform the plan. */
  mutates?: boolean
  /** What it destroys or moves; such a step needs --yes or a "yes" at the prompt. */
  destructive?: string
  /** One line for the plan. */
  describe?: string
}

export interface StepApi {
  progress(line: string): void
}

export class Runbook {
  readonly log: Log
  private readonly done: Set<string>
  private readonly timings: StepTiming[] = []
  private refresh?: NodeJS.Timeout

  private constructor(
    readonly name: string,
    readonly journal: Journal,
    readonly runId: string,
    readonly opts: RunbookOptions,
    resumedSteps: Set<string>,
  ) {
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`))
    this.done = resumedSteps
  }

  static start(name: string, opts: RunbookOptions): Runbook {
    const journal = Journal.open(opts.journalPath)
    const ttl = opts.lockTtlMs ?? 10 * 60_000
    if (!opts.plan) {
      if (opts.breakLock) journal.breakLock(name)
      try {
        journal.acquireLock(name, `${process.env.USER ?? 'someone'} (ocean-ops ${name})`, ttl)
      } catch (e) {
        journal.close()
        throw e
      }
    }
    const previous = opts.resume ? journal.lastUnfinishedRun(name) : undefined
    const runId = journal.startRun(name, opts.inputs ?? {}, previous?.run_id)
    const rb = new Runbook(name, journal, runId, opts, previous ? journal.completedSteps(previous.run_id) : new Set())
    if (!opts.plan) {
      rb.refresh = setInterval(() => journal.refreshLock(name, ttl), Math.max(1000, ttl / 3))
      rb.refresh.unref()
    }
    rb.log(`${opts.plan ? 'PLAN' : 'RUN'} ${name} (run ${runId}${previous ? `, resuming ${previous.run_id}` : ''}; journal ${opts.journalPath})`)
    return rb
  }

  get planning(): boolean {
    return Boolean(this.opts.plan)
  }

  async step<T>(name: string, opts: StepOptions, fn: (api: StepApi) => Promise<T>): Promise<T | undefined> {
    const label = opts.describe ? `${name}: ${opts.describe}` : name
    // Read-only steps run again: later steps use what they find (connections, state).
    if (this.done.has(name) && (opts.mutates || opts.destructive)) {
      this.log(`  = ${label} (done in the interrupted run)`)
      this.journal.stepStarted(this.runId, name, Boolean(opts.destructive))
      this.journal.stepEnded(this.runId, name, 'skipped', 'completed in the resumed run')
      return undefined
    }
    if (this.opts.plan && (opts.mutates || opts.destructive)) {
      this.log(`  ~ would ${label}${opts.destructive ? `  [DESTRUCTIVE: ${opts.destructive}; needs --yes]` : ''}`)
      this.journal.stepStarted(this.runId, name, Boolean(opts.destructive))
      this.journal.stepEnded(this.runId, name, 'planned')
      return undefined
    }
    const confirmed = opts.destructive ? await this.confirm(name, opts.destructive) : undefined
    const t0 = performance.now()
    this.journal.stepStarted(this.runId, name, Boolean(opts.destructive))
    this.log(`  > ${label}`)
    try {
      const value = await fn({ progress: (line) => this.log(`      ${line}`) })
      const ms = performance.now() - t0
      this.journal.stepEnded(this.runId, name, 'ok', confirmed ?? (value === undefined || typeof value === 'function' ? undefined : (value as unknown)))
      this.timings.push({ step: name, ms, result: 'ok' })
      this.log(`  ✔ ${name} (${fmtMs(ms)})`)
      return value
    } catch (e) {
      const ms = performance.now() - t0
      this.journal.stepEnded(this.runId, name, 'failed', isOpsError(e) ? `${e.code}: ${e.message}` : String(e))
      this.timings.push({ step: name, ms, result: 'failed' })
      this.log(`  ✖ ${name} (${fmtMs(ms)})`)
      throw e
    }
  }

  /** Step times so far, for reports. */
  stepTimings(): StepTiming[] {
    return [...this.timings]
  }

  private async confirm(step: string, what: string): Promise<string> {
    if (this.opts.yes) return `confirmed by --yes: ${what}`
    const interactive = this.opts.interactive ?? Boolean(process.stdin.isTTY)
    if (!interactive) {
      throw new OpsError('OPS_E_CONFIRM', `step "${step}" will ${what}. Review the plan (--plan), then re-run with --yes to proceed.`)
    }
    const answer = await question(`  ? ${step} will ${what}. Type "yes" to proceed: `)
    if (answer.trim() !== 'yes') throw new OpsError('OPS_E_CONFIRM', `step "${step}" was not confirmed; nothing more was done.`)
    return `confirmed at the prompt: ${what}`
  }

  /** End the run: journal the result, release the lock. Always call it (try/finally). */
  finish(error?: unknown): void {
    if (this.refresh) clearInterval(this.refresh)
    const result = this.opts.plan ? 'planned' : error ? 'failed' : 'ok'
    this.journal.endRun(this.runId, result, error ? (isOpsError(error) ? `${error.code}: ${error.message}` : String(error)) : undefined)
    if (!this.opts.plan) this.journal.releaseLock(this.name)
    this.journal.close()
    this.log(`${result.toUpperCase()} ${this.name} (run ${this.runId})`)
  }
}

/** Run `body` inside a runbook frame; the run is journaled and the lock released whatever happens. */
export async function runRunbook<T>(name: string, opts: RunbookOptions, body: (rb: Runbook) => Promise<T>): Promise<T> {
  const rb = Runbook.start(name, opts)
  try {
    const value = await body(rb)
    rb.finish()
    return value
  } catch (e) {
    rb.finish(e)
    throw e
  }
}

export function fmtMs(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`
}

/** A step of a finished run: its name, how long it took, what it did. */
export interface StepTiming {
  step: string
  ms: number
  result: string
}

/** A run's steps as a Markdown table (the cutover's and the rollback's reports). */
export function stepTimingsTable(steps: StepTiming[]): string[] {
  return ['| step | time | result |', '|---|---|---|', ...steps.map((x) => `| ${x.step} | ${(x.ms / 1000).toFixed(2)} s | ${x.result} |`)]
}
