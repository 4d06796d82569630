// The ingestion buffer: a Redis stream of entries, each holding up to `entryEvents` packed events.
// A batch is added in one MULTI/EXEC round trip, so it is stored whole or not at all, and only
// then is the client told 202. The same module holds the consumer-group calls the worker makes.
import { Redis } from 'ioredis'
import { Errors, type OceanError } from '../errors.ts'
import type { PackedEvent } from '../stores/duckdb-store.ts'
import { chunk } from './event-codec.ts'

export interface BufferNames {
  stream: string
  group: string
  deadLetter: string
  accepted: string
  processed: string
}

export function bufferNames(stream: string, group: string): BufferNames {
  return { stream, group, deadLetter: `${stream}:dead`, accepted: `${stream}:accepted`, processed: `${stream}:processed` }
}

export interface Backlog {
  /** Events accepted and not yet stored in DuckDB. */
  events: number
  /** Entries delivered to the worker and not yet acknowledged. */
  pending_entries: number
  /** Entries not yet delivered to the worker. */
  lag_entries: number
  dead_letter_entries: number
  oldest_unprocessed_at: string | null
}

/** A Redis client for request paths: fails fast instead of queueing while Redis is down. */
export function connectRedis(url: string, name: string): Redis {
  return new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    lazyConnect: false,
  })
}

export function redisReady(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('Redis did not become ready within 10 s')), 10_000)
    redis.once('ready', () => {
      clearTimeout(t)
      resolve()
    })
  })
}

export class RedisBuffer {
  /** Told the accepted counter's value after each addition (what backpressure counts with). */
  onAccepted: (total: number) => void = () => undefined
  /** Single events waiting for the next group commit (appendOne). */
  private waiting: Array<{ event: PackedEvent; resolve: (id: string) => void; reject: (e: unknown) => void }> = []

  constructor(
    private readonly redis: Redis,
    readonly names: BufferNames,
    private readonly entryEvents: number,
  ) {}

  /**
   * The id below which every entry is acknowledged (safe to trim): the first pending entry, else
   * the one after the last delivered. Only the worker, which calls this, delivers entries.
   */
  async safeTrimId(): Promise<string | null> {
    const summary = (await this.redis.xpending(this.names.stream, this.names.group)) as [number, string | null]
    if (summary[0] > 0 && summary[1]) return summary[1]
    const last = await this.lastDeliveredId()
    return last && last !== '0-0' ? nextId(last) : null
  }

  private async lastDeliveredId(): Promise<string | null> {
    const groups = (await this.redis.xinfo('GROUPS', this.names.stream).catch(() => [])) as unknown[][]
    const last = groups.map(toRecord).find((g) => g.name === this.names.group)?.['last-delivered-id']
    return last === undefined ? null : String(last)
  }

  /**
   * Adds one event together with the others that arrive in the same turn of the event loop: one
   * round trip (MULTI, an XADD per entry, INCRBY) for all of them instead of one each — group commit.
   * Resolves, once Redis holds it, to the id of the entry holding it (events that arrived together
   * share an entry); rejects, like every event of its round trip, if Redis does not take them.
   */
  appendOne(event: PackedEvent): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.waiting.push({ event, resolve, reject })
      if (this.waiting.length === 1) setImmediate(() => this.flushWaiting())
    })
  }

  private flushWaiting(): void {
    const group = this.waiting
    this.waiting = []
    this.append(group.map((w) => w.event)).then(
      (ids) => group.forEach((w, i) => w.resolve(ids[Math.floor(i / this.entryEvents)] as string)),
      (err: unknown) => group.forEach((w) => w.reject(err)),
    )
  }

  /** Adds the events; returns one stream id per entry (entry i holds events i*entryEvents ...). */
  async append(events: PackedEvent[]): Promise<string[]> {
    const multi = this.redis.multi()
    for (const part of chunk(events, this.entryEvents)) multi.xadd(this.names.stream, '*', 'e', JSON.stringify(part))
    multi.incrby(this.names.accepted, events.length)
    let results: [Error | null, unknown][] | null
    try {
      results = await multi.exec()
    } catch (e) {
      throw bufferError(e)
    }
    if (!results || results.some(([err]) => err !== null)) throw Errors.bufferUnavailable()
    this.onAccepted(Number(results[results.length - 1]?.[1]))
    return results.slice(0, -1).map(([, id]) => String(id))
  }

  /**
   * Adds the events once per idempotency key: in one Lua script (atomic in Redis) the key is looked
   * up and, if it is new, the entries are added and the key remembered for `ttlMs` with the answer.
   * A retry, even one sent while the first attempt is still queued in a paused Redis, gets the first
   * answer (`replayed`); the same key with another request (fingerprint) is a 409.
   */
  async appendOnce(key: string, fingerprint: string, events: PackedEvent[], ttlMs: number): Promise<{ ids: string[]; events: number; replayed: boolean }> {
    const entries = chunk(events, this.entryEvents).map((part) => JSON.stringify(part))
    let answer: [number, string, number?]
    try {
      answer = (await this.redis.eval(
        APPEND_ONCE,
        3,
        `${this.names.stream}:idem:${key}`,
        this.names.stream,
        this.names.accepted,
        fingerprint,
        String(ttlMs),
        String(events.length),
        ...entries,
      )) as [number, string, number?]
    } catch (e) {
      throw bufferError(e)
    }
    if (answer[2] !== undefined) this.onAccepted(answer[2])
    const record = JSON.parse(answer[1]) as { f: string; n: number; ids: string[] }
    if (record.f !== fingerprint) throw Errors.idempotencyConflict('this Idempotency-Key was already used with a different request; use a new key for a new request')
    return { ids: record.ids, events: record.n, replayed: answer[0] === 0 }
  }

  async backlog(): Promise<Backlog> {
    const [accepted, processed, dead, groups, first] = await Promise.all([
      this.redis.get(this.names.accepted),
      this.redis.get(this.names.processed),
      this.redis.xlen(this.names.deadLetter),
      this.redis.xinfo('GROUPS', this.names.stream).catch(() => [] as unknown[]),
      this.oldestUnprocessedId(),
    ])
    const group = (groups as unknown[][]).map(toRecord).find((g) => g.name === this.names.group)
    return {
      events: Math.max(0, Number(accepted ?? 0) - Number(processed ?? 0)),
      pending_entries: Number(group?.pending ?? 0),
      lag_entries: Number(group?.lag ?? 0),
      dead_letter_entries: dead,
      oldest_unprocessed_at: first ? new Date(Number(first.split('-')[0])).toISOString() : null,
    }
  }

  /** The smallest id not yet acknowledged: the first pending one, else the first undelivered one. */
  async oldestUnprocessedId(): Promise<string | null> {
    const summary = (await this.redis.xpending(this.names.stream, this.names.group).catch(() => null)) as [number, string | null] | null
    if (summary && summary[0] > 0 && summary[1]) return summary[1]
    const last = await this.lastDeliveredId()
    const next = (await this.redis.xrange(this.names.stream, `(${last ?? '0-0'}`, '+', 'COUNT', 1)) as [string, string[]][]
    return next[0]?.[0] ?? null
  }
}

// KEYS: idempotency key, stream, accepted counter. ARGV: fingerprint, ttl ms, event count, entries.
const APPEND_ONCE = `
local prior = redis.call('GET', KEYS[1])
if prior then return {0, prior} end
local ids = {}
for i = 4, #ARGV do ids[#ids + 1] = redis.call('XADD', KEYS[2], '*', 'e', ARGV[i]) end
local total = redis.call('INCRBY', KEYS[3], ARGV[3])
local record = cjson.encode({f = ARGV[1], n = tonumber(ARGV[3]), ids = ids})
redis.call('SET', KEYS[1], record, 'PX', ARGV[2])
return {1, record, total}
`

/**
 * What a failed write to Redis means for the client. Redis answering with an error, or the command
 * never leaving this process (not connected: the offline queue is off), means nothing was added.
 * A timeout or a connection lost after sending means it may have been: saying "not accepted" then
 * would make a client retry into a duplicate.
 */
export function bufferError(e: unknown): OceanError {
  const message = e instanceof Error ? e.message : String(e)
  const notSent = (e as { name?: string }).name === 'ReplyError' || message.includes('enableOfflineQueue')
  return notSent ? Errors.bufferUnavailable() : Errors.bufferOutcomeUnknown()
}

export function nextId(id: string): string {
  const [ms, seq] = id.split('-')
  return `${ms}-${Number(seq) + 1}`
}

export function toRecord(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1]
  return out
}
