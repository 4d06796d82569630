// The ingest worker: the only writer of the DuckDB file. It reads buffer entries through a Redis
// consumer group, stores each batch in one DuckDB transaction (recording the entry ids, so an
// entry delivered again after a crash is recognised and not stored twice), then acknowledges it;
// a batch DuckDB refuses is stored an entry at a time, so a bad entry holds back only itself.
// Entries a dead worker left pending are claimed at start; an entry that keeps failing goes to the
// dead-letter stream; the stream is trimmed only below the oldest unacknowledged entry.
import type { Redis } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import { decodeEntry } from '../buffer/event-codec.ts'
import { toRecord, type RedisBuffer } from '../buffer/redis-buffer.ts'
import { timed, type Metrics } from '../metrics.ts'
import type { BufferedEntry, TelemetryStore } from '../stores/duckdb-store.ts'
import type { EventColumns } from '../stores/event-columns.ts'
import { TRIM_EVERY_EVENTS } from './trim-policy.ts'

export interface WorkerOptions {
  consumer: string
  maxDeliveries: number
  /** Entries read per XREADGROUP, at least (more while entries are small: see TARGET_EVENTS). */
  readCount?: number
  blockMs?: number
  trimEveryMs?: number
  /** Trims as soon as this many events were acknowledged since the last trim (default TRIM_EVERY_EVENTS; the engine passes trim-policy.ts's trimEveryEvents of its backlog bound). */
  trimEveryEvents?: number
}

type RawEntry = [id: string, fields: string[] | null]
/**
 * An entry as read: its events laid out in columns (not its text: what waits to be stored stays
 * small), or why they could not be decoded and its fields (it goes to the dead-letter stream).
 */
type ReadEntry = { id: string; events: EventColumns } | { id: string; fields: string[] | null; error: string }
/**
 * One XREADGROUP's entries, decoded, and how many were asked for (fewer: the stream had no more).
 * Decoding belongs to the read so that a read-ahead's JSON.parse runs while DuckDB commits or
 * compacts the batch before it on its own threads, not after.
 */
type ReadResult = { entries: ReadEntry[]; count: number }

export interface DrainResult {
  /** The group had nothing pending and nothing undelivered when the drain ended. */
  drained: boolean
  entries: number
  events: number
}

/**
 * Events one read (= one DuckDB transaction) aims at: 20 full entries. A commit costs ~2 ms
 * whatever its size, so reading single-event entries 20 at a time capped the worker at a few
 * thousand events/s (measured by the bench) while the API accepted several times that.
 */
const TARGET_EVENTS = 20_000
/** Bounds a read when entries grow again: at most this many entries of up to OCEAN_ENTRY_EVENTS. */
const MAX_READ_ENTRIES = 200
/**
 * Under a steady stream of single events a read right after each commit finds only the few events
 * that arrived during it, so DuckDB committed hundreds of tiny transactions a second: measured, a
 * sixth of the process's CPU under single-event load, taken from the API beside it. After a read
 * that drained the stream, the next one waits until this long after it began: events become visible
 * in DuckDB up to this much later, the API keeps the CPU (single-event ingest, one process: ~16k ->
 * ~25-29k req/s), and a backlog is still read without pause.
 */
const LINGER_MS = 100

export class IngestWorker {
  private stopping = false
  private running: Promise<void> | null = null
  private stopped?: Promise<DrainResult | undefined>
  private readPending = true
  private lastTrim = 0
  private ackedSinceTrim = 0
  private lastForget = 0
  /** Average events per entry in the last read; starts at a full entry (the old fixed count). */
  private eventsPerEntry = 1000
  private readonly failures = new Map<string, number>()

  constructor(
    /** A dedicated connection: XREADGROUP BLOCK holds it. */
    private readonly redis: Redis,
    private readonly buffer: RedisBuffer,
    private readonly store: TelemetryStore,
    private readonly metrics: Metrics,
    private readonly log: FastifyBaseLogger,
    private readonly opts: WorkerOptions,
  ) {}

  /** Starts in the background: if Redis is not up yet, the worker waits for it. */
  start(): void {
    this.running = this.run()
  }

  private async run(): Promise<void> {
    const { stream, group } = this.buffer.names
    for (let backoff = 100; !this.stopping; backoff = Math.min(backoff * 2, 5000)) {
      try {
        await this.redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM').catch((e: unknown) => {
          if (!String(e).includes('BUSYGROUP')) throw e
        })
        await this.claimOrphans()
        break
      } catch (e) {
        this.log.warn({ err: e }, 'ingest worker cannot reach Redis yet; retrying')
        await sleep(backoff)
      }
    }
    await this.loop()
  }

  /**
   * Stops reading new work once the batch in hand is stored; with `drainMs`, then stores whatever
   * else the stream holds for the group (the buffer is data: an event answered 202 must not wait in
   * Redis for a worker that may never run again). Resolves to the drain's outcome.
   */
  stop(opts: { drainMs?: number } = {}): Promise<DrainResult | undefined> {
    // A second call (e.g. after the caller's own timeout) waits for the first one's drain.
    this.stopped ??= (async () => {
      this.stopping = true
      await this.running
      return opts.drainMs ? this.drain(performance.now() + opts.drainMs) : undefined
    })()
    return this.stopped
  }

  /**
   * Without the loop running: claims what other consumers left, then reads (never blocking) and
   * stores until the group has nothing pending and nothing undelivered, or the deadline passes.
   */
  async drain(deadline: number): Promise<DrainResult> {
    const result: DrainResult = { drained: false, entries: 0, events: 0 }
    let backoff = 100
    let claimed = false
    this.readPending = true
    while (performance.now() < deadline) {
      try {
        if (!claimed) await this.claimOrphans()
        claimed = true
        const { entries } = await this.read({ block: false })
        if (entries.length > 0) {
          try {
            const done = await this.process(entries)
            result.events += done.events
            result.entries += done.entries
            if ('error' in done) throw done.error
          } finally {
            releaseAll(entries)
          }
        } else if (this.readPending) this.readPending = false
        else {
          result.drained = true
          break
        }
        backoff = 100
      } catch (e) {
        this.metrics.storeFailures.inc()
        this.log.error({ err: e }, 'ingest worker drain batch failed; will retry')
        this.readPending = true
        await sleep(Math.min(backoff, Math.max(0, deadline - performance.now())))
        backoff = Math.min(backoff * 2, 2000)
      }
    }
    return result
  }

  /** Takes over every entry another (dead) consumer left unacknowledged. */
  private async claimOrphans(): Promise<void> {
    const { stream, group } = this.buffer.names
    let cursor = '0-0'
    do {
      const reply = (await this.redis.xautoclaim(stream, group, this.opts.consumer, 0, cursor, 'COUNT', 500, 'JUSTID')) as [string, string[]]
      cursor = reply[0]
      if (reply[1].length > 0) this.log.info({ entries: reply[1].length }, 'claimed entries left by a stopped worker')
    } while (cursor !== '0-0')
    const consumers = (await this.redis.xinfo('CONSUMERS', stream, group)) as unknown[][]
    for (const c of consumers) {
      const rec = toRecord(c)
      if (rec.name !== this.opts.consumer && Number(rec.pending) === 0) await this.redis.xgroup('DELCONSUMER', stream, group, String(rec.name))
    }
  }

  private async loop(): Promise<void> {
    let backoff = 100
    let readAt = 0
    let caughtUp = false
    let prefetched: Promise<ReadResult> | null = null
    while (!this.stopping) {
      try {
        const wait = caughtUp ? readAt + LINGER_MS - performance.now() : 0
        if (wait > 0) await sleep(wait)
        readAt = performance.now()
        const { entries, count } = await (prefetched ?? this.read())
        prefetched = null
        // A full read of new entries means a backlog: the next read goes out now (without blocking,
        // so the acknowledgement behind it on this connection does not wait), and Redis answers it
        // while this batch is stored. Delivered and not stored, it stays pending: read again after a
        // failure (readPending), a restart or a drain, and stored once (the entry ids in DuckDB).
        if (entries.length === count && !this.readPending) {
          prefetched = this.read({ block: false })
          prefetched.catch(() => undefined)
        }
        if (entries.length > 0) {
          try {
            await this.store.roomToAppend()
            const done = await this.process(entries)
            if ('error' in done) throw done.error
          } finally {
            releaseAll(entries)
          }
        } else if (this.readPending) this.readPending = false
        // Fewer entries than asked for, and few events: the stream was drained; a backlog is read at once.
        caughtUp = entries.length < count && entries.length * this.eventsPerEntry < TARGET_EVENTS / 2
        this.compactBeside()
        await this.maybeTrim()
        backoff = 100
      } catch (e) {
        prefetched = null
        this.metrics.storeFailures.inc()
        this.log.error({ err: e }, 'ingest worker batch failed; will retry')
        this.readPending = true
        await sleep(backoff)
        backoff = Math.min(backoff * 2, 5000)
      }
    }
    await this.store.compacted()
  }

  /**
   * Starts the next compaction step, if one is due and none runs: DuckDB sorts on the store's
   * compactor connection while this loop goes on appending (awaited only when the loop ends).
   */
  private compactBeside(): void {
    this.store.compact().catch((e: unknown) => {
      this.metrics.storeFailures.inc()
      this.log.error({ err: e }, 'telemetry compaction failed; it is tried again after the next batch')
    })
  }

  private async read(o: { block?: boolean } = {}): Promise<ReadResult> {
    const { stream, group } = this.buffer.names
    const min = this.opts.readCount ?? 20
    const count = Math.min(Math.max(min, MAX_READ_ENTRIES), Math.max(min, Math.ceil(TARGET_EVENTS / this.eventsPerEntry)))
    const reply = this.readPending
      ? await this.redis.xreadgroup('GROUP', group, this.opts.consumer, 'COUNT', count, 'STREAMS', stream, '0')
      : o.block === false
        ? await this.redis.xreadgroup('GROUP', group, this.opts.consumer, 'COUNT', count, 'STREAMS', stream, '>')
        : await this.redis.xreadgroup('GROUP', group, this.opts.consumer, 'COUNT', count, 'BLOCK', this.opts.blockMs ?? 500, 'STREAMS', stream, '>')
    const streams = reply as [string, RawEntry[]][] | null
    return { entries: (streams?.[0]?.[1] ?? []).map(decodeRaw), count }
  }

  /**
   * Stores and acknowledges `raw`. Resolves to the entries it is done with (stored, found stored or
   * dead-lettered) and their events acknowledged, and to the error of any entry it could not store:
   * those stay pending, to be read again (the caller throws it after counting the rest).
   */
  private async process(raw: ReadEntry[]): Promise<{ entries: number; events: number; error?: unknown }> {
    const decoded: BufferedEntry[] = []
    const acks: string[] = []
    let ackedEvents = 0
    for (const entry of raw) {
      if ('error' in entry) await this.deadLetter(entry.id, entry.fields, entry.error)
      else decoded.push({ id: entry.id, events: entry.events })
    }
    if (decoded.length > 0) this.eventsPerEntry = Math.max(1, decoded.reduce((n, d) => n + d.events.length, 0) / decoded.length)
    // Only a re-delivered entry can already be stored (new ones were never handed out before).
    let fresh = decoded
    if (this.readPending) {
      const stored = await this.store.storedEntryIds(decoded.map((d) => d.id))
      fresh = decoded.filter((d) => !stored.has(d.id))
      for (const d of decoded) {
        if (stored.has(d.id)) {
          acks.push(d.id)
          ackedEvents += d.events.length
        }
      }
      fresh = await this.dropPoison(fresh)
    }
    const { stored, ...failed } = await this.storeEntries(fresh)
    for (const d of stored) {
      acks.push(d.id)
      ackedEvents += d.events.length
      this.failures.delete(d.id)
    }
    await this.ack(acks, ackedEvents)
    return { entries: raw.length - (fresh.length - stored.length), events: ackedEvents, ...failed }
  }

  /**
   * Stores the entries in one transaction. If DuckDB refuses it, stores them one at a time: an entry
   * it cannot store (each failure counts towards its dead-lettering) then holds back only itself,
   * not the batch read with it, which went to the dead-letter stream with it before. `error` is
   * there when an entry was left unstored.
   */
  private async storeEntries(entries: BufferedEntry[]): Promise<{ stored: BufferedEntry[]; error?: unknown }> {
    if (entries.length === 0) return { stored: [] }
    try {
      await timed(this.metrics, 'duckdb', 'append', () => this.store.append(entries))
      return { stored: entries }
    } catch (e) {
      if (entries.length === 1) {
        this.countFailure(entries[0] as BufferedEntry)
        return { stored: [], error: e }
      }
      this.log.warn({ err: e, entries: entries.length }, 'storing a batch failed; storing its entries one at a time')
      const stored: BufferedEntry[] = []
      let failed: { error: unknown } | undefined
      for (const d of entries) {
        try {
          await timed(this.metrics, 'duckdb', 'append', () => this.store.append([d]))
          stored.push(d)
        } catch (one) {
          failed = { error: one }
          this.countFailure(d)
        }
      }
      return { stored, ...failed }
    }
  }

  /** Counts a failed try to store the entry. */
  private countFailure(entry: BufferedEntry): void {
    this.failures.set(entry.id, (this.failures.get(entry.id) ?? 0) + 1)
  }

  /** Entries delivered too often (a worker crashed on them, or they keep failing) go to the dead-letter stream. */
  private async dropPoison(entries: BufferedEntry[]): Promise<BufferedEntry[]> {
    if (entries.length === 0) return entries
    const { stream, group } = this.buffer.names
    const ids = entries.map((e) => e.id)
    const pending = (await this.redis.xpending(stream, group, ids[0] as string, ids[ids.length - 1] as string, ids.length)) as [string, string, number, number][]
    const deliveries = new Map(pending.map(([id, , , n]) => [id, n]))
    const keep: BufferedEntry[] = []
    for (const e of entries) {
      const tries = Math.max(deliveries.get(e.id) ?? 0, this.failures.get(e.id) ?? 0)
      if (tries > this.opts.maxDeliveries) await this.deadLetter(e.id, await this.fieldsOf(e.id), `delivered ${tries} times without being stored`)
      else keep.push(e)
    }
    return keep
  }

  /** An entry's fields as the stream holds them (still there: an unacknowledged entry is never trimmed). */
  private async fieldsOf(id: string): Promise<string[] | null> {
    const found = (await this.redis.xrange(this.buffer.names.stream, id, id)) as RawEntry[]
    return found[0]?.[1] ?? null
  }

  private async deadLetter(id: string, fields: string[] | null, reason: string): Promise<void> {
    const { stream, group, deadLetter } = this.buffer.names
    await this.redis.multi()
      .xadd(deadLetter, '*', 'source_id', id, 'reason', reason, ...(fields ?? []))
      .xack(stream, group, id)
      .exec()
    this.metrics.deadLettered.inc()
    this.failures.delete(id)
    this.log.warn({ id, reason }, 'buffer entry moved to the dead-letter stream')
  }

  private async ack(ids: string[], events: number): Promise<void> {
    if (ids.length === 0) return
    const { stream, group, processed } = this.buffer.names
    await this.redis.multi().xack(stream, group, ...ids).incrby(processed, events).exec()
    this.metrics.stored.inc(events)
    this.ackedSinceTrim += events
  }

  /** Trims the stream below its oldest unacknowledged entry once a second, or sooner after many acknowledgements. */
  private async maybeTrim(): Promise<void> {
    const now = Date.now()
    const everyMs = this.opts.trimEveryMs ?? 1000
    if (now - this.lastTrim < everyMs && this.ackedSinceTrim < (this.opts.trimEveryEvents ?? TRIM_EVERY_EVENTS)) return
    this.lastTrim = now
    this.ackedSinceTrim = 0
    const trimId = await this.buffer.safeTrimId()
    if (!trimId) return
    await this.redis.xtrim(this.buffer.names.stream, 'MINID', '~', trimId)
    // Entries below the trim point are acknowledged and gone: they can never be delivered again.
    // (A DuckDB transaction: kept to the time-based pace, whatever triggered the trim.)
    if (now - this.lastForget < everyMs) return
    this.lastForget = now
    await this.store.forgetEntriesBefore(Number(trimId.split('-')[0]) - 3_600_000)
  }
}

/** A read's entries are stored, or left pending to be read (and laid out) again: their buffers go to the next reads. */
function releaseAll(entries: ReadEntry[]): void {
  for (const entry of entries) if ('events' in entry) entry.events.release()
}

function decodeRaw([id, fields]: RawEntry): ReadEntry {
  try {
    if (!fields) throw new Error('entry was deleted from the stream')
    return { id, events: decodeEntry(fields[1] ?? '') }
  } catch (e) {
    return { id, fields, error: String(e) }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
