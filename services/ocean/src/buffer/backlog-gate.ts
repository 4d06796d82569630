// Backpressure on ingest: a view of the unstored backlog, refreshed from Redis every few hundred ms
// per API process (never per request), that says whether ingest should refuse (429) and for how
// long a client should wait. Refusing starts at the bound and stops below RESUME of it, so the
// answer does not flap at the edge.
import type { Redis } from 'ioredis'
import { toRecord, type BufferNames } from './redis-buffer.ts'

export interface BacklogBounds {
  /** 0: no bound on events. */
  maxEvents: number
  /** 0: no bound on the oldest unstored event's age. */
  maxSeconds: number
}

export type RefusalReason = 'events' | 'age'

export interface BacklogView {
  /** 'off' when no bound is set; 'unknown' until Redis first answers (or after it stopped answering). */
  status: 'within bound' | 'over bound' | 'unknown' | 'off'
  events: number | null
  oldest_unstored_age_seconds: number | null
  /** Events stored per second lately (what Retry-After is computed from). */
  storage_rate: number | null
  max_events: number
  max_seconds: number
}

/** Refusing stops once the backlog is below this share of each bound. */
export const RESUME = 0.9
export const REFRESH_MS = 250
/** Retry-After is clamped to this range (seconds). */
export const RETRY_MIN_S = 1
export const RETRY_MAX_S = 30
/** A view older than this is not trusted to refuse with: Redis stopped answering the refresh. */
const STALE_MS = 5000

interface Sample {
  at: number
  accepted: number
  processed: number
  ageSeconds: number
}

/**
 * Whether the backlog is over the bound after `s`, given whether it was before (hysteresis).
 * Pure, for the unit tests: the reason refusing starts or goes on, or null.
 */
export function overBound(b: BacklogBounds, events: number, ageSeconds: number, wasOver: boolean): RefusalReason | null {
  const share = wasOver ? RESUME : 1
  if (b.maxEvents > 0 && events >= b.maxEvents * share) return 'events'
  if (b.maxSeconds > 0 && ageSeconds >= b.maxSeconds * share) return 'age'
  return null
}

/**
 * Seconds until the backlog is likely below the resume mark: the events above it at the recent
 * storage rate (an age bound: the age above its mark, as storing catches up at best one second of
 * age per second). With no storage seen lately (a stopped worker), the longest wait.
 */
export function retryAfterSeconds(b: BacklogBounds, events: number, ageSeconds: number, ratePerS: number): number {
  let wait = 0
  if (b.maxEvents > 0 && events >= b.maxEvents * RESUME) {
    wait = ratePerS > 0 ? (events - b.maxEvents * RESUME) / ratePerS : RETRY_MAX_S
  }
  if (b.maxSeconds > 0 && ageSeconds >= b.maxSeconds * RESUME) wait = Math.max(wait, ageSeconds - b.maxSeconds * RESUME)
  return Math.min(RETRY_MAX_S, Math.max(RETRY_MIN_S, Math.ceil(wait)))
}

export class BacklogGate {
  private last?: Sample
  private rate = 0
  private timer?: NodeJS.Timeout
  private refreshing = false
  /** Why ingest refuses now, or null: all a request reads. */
  reason: RefusalReason | null = null
  /** Seconds for Retry-After while refusing. */
  retryAfter = RETRY_MIN_S

  constructor(
    private readonly redis: Redis,
    private readonly names: BufferNames,
    readonly bounds: BacklogBounds,
    private readonly onChange: (refusing: boolean) => void = () => undefined,
  ) {}

  get enabled(): boolean {
    return this.bounds.maxEvents > 0 || this.bounds.maxSeconds > 0
  }

  start(refreshMs = REFRESH_MS): this {
    if (!this.enabled) return this
    void this.refresh()
    this.timer = setInterval(() => void this.refresh(), refreshMs)
    this.timer.unref()
    return this
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /**
   * The accepted counter as an addition of this process returned it (exact, and including the
   * other processes' additions so far): the view is updated at once, so a fast stream of batches is
   * stopped within a batch of the bound, not a refresh later. The stored count stays the last
   * refresh's: the backlog is overestimated by at most one refresh of storage, never under.
   */
  accepted(total: number): void {
    const last = this.last
    if (!last || !Number.isFinite(total) || total <= last.accepted) return
    last.accepted = total
    if (this.reason !== null) return
    const backlog = Math.max(0, total - last.processed)
    this.reason = overBound(this.bounds, backlog, last.ageSeconds, false)
    if (this.reason !== null) {
      this.retryAfter = retryAfterSeconds(this.bounds, backlog, last.ageSeconds, this.rate)
      this.onChange(true)
    }
  }

  /** One read of Redis: the two counters (and, with an age bound, the oldest unstored id and TIME) in one round trip. */
  async refresh(): Promise<void> {
    if (this.refreshing) return
    this.refreshing = true
    try {
      // Taken as read, even if lower than an addition reported meanwhile: a counter that went
      // back (Redis emptied) must not leave a backlog that is not there.
      const s = await this.read()
      const prev = this.last
      if (prev && s.at > prev.at) {
        // A moving average over ~2 s: one slow worker batch does not swing Retry-After.
        const now = Math.max(0, s.processed - prev.processed) / ((s.at - prev.at) / 1000)
        this.rate = this.rate === 0 ? now : this.rate * 0.8 + now * 0.2
      }
      this.last = s
      const events = Math.max(0, s.accepted - s.processed)
      this.reason = overBound(this.bounds, events, s.ageSeconds, this.reason !== null)
      this.retryAfter = retryAfterSeconds(this.bounds, events, s.ageSeconds, this.rate)
    } catch {
      // Redis not answering: ingest's own write fails (503) or succeeds on its merits; a view
      // that can no longer be refreshed stops refusing once it is stale.
      if (this.last && Date.now() - this.last.at > STALE_MS) this.reason = null
    } finally {
      this.refreshing = false
      this.onChange(this.reason !== null)
    }
  }

  private async read(): Promise<Sample> {
    const { stream, group, accepted, processed } = this.names
    const multi = this.redis.multi().mget(accepted, processed)
    if (this.bounds.maxSeconds > 0) multi.xpending(stream, group).xinfo('GROUPS', stream).time()
    const results = await multi.exec()
    if (!results) throw new Error('the transaction was aborted')
    // XINFO fails while the stream does not exist yet: then nothing is unstored.
    const [first, pending, groups, time] = results as [Error | null, unknown][]
    if (!first || first[0]) throw first?.[0] ?? new Error('no reply')
    const [a, p] = first[1] as [string | null, string | null]
    const sample = { at: Date.now(), accepted: Number(a ?? 0), processed: Number(p ?? 0), ageSeconds: 0 }
    if (this.bounds.maxSeconds > 0 && time && !time[0]) {
      const [sec, micros] = time[1] as [string, string]
      const redisNow = Number(sec) * 1000 + Number(micros) / 1000
      const oldest = await this.oldestId(pending?.[1] as [number, string | null] | undefined, groups?.[0] ? undefined : (groups?.[1] as unknown[][]))
      if (oldest !== null) sample.ageSeconds = Math.max(0, (redisNow - Number(oldest.split('-')[0])) / 1000)
    }
    return sample
  }

  /** As RedisBuffer.oldestUnprocessedId, from replies already read: the first pending entry, else the first undelivered one. */
  private async oldestId(pending: [number, string | null] | undefined, groups: unknown[][] | undefined): Promise<string | null> {
    if (pending && pending[0] > 0 && pending[1]) return pending[1]
    if (!groups) return null
    const last = String(groups.map(toRecord).find((g) => g.name === this.names.group)?.['last-delivered-id'] ?? '0-0')
    const next = (await this.redis.xrange(this.names.stream, `(${last}`, '+', 'COUNT', 1)) as [string, string[]][]
    return next[0]?.[0] ?? null
  }

  /** What /ready shows. */
  view(): BacklogView {
    const s = this.last
    const events = s ? Math.max(0, s.accepted - s.processed) : null
    const status = !this.enabled ? 'off' : !s || Date.now() - s.at > STALE_MS ? 'unknown' : this.reason ? 'over bound' : 'within bound'
    return {
      status,
      events,
      oldest_unstored_age_seconds: s && this.bounds.maxSeconds > 0 ? Math.round(s.ageSeconds * 10) / 10 : null,
      storage_rate: s ? Math.round(this.rate) : null,
      max_events: this.bounds.maxEvents,
      max_seconds: this.bounds.maxSeconds,
    }
  }
}
