// Buffered events laid out as the columns of the telemetry table, in the bytes DuckDB's vectors
// hold: timestamps as int64 microseconds, values as doubles, and strings as DuckDB's 16-byte
// string_t (the C API's duckdb_string_t), which holds a string of up to 12 bytes inline; longer
// strings and non-ASCII ones are kept apart (DuckDB encodes and stores them itself). The worker
// lays out each entry as soon as it has parsed it, so what waits to be stored (the batch in hand
// and the one read ahead) is a few typed arrays, not an array and three heap values per event:
// storing a backlog spent a quarter of its time in V8's young-generation collector copying those.

/** An event as it travels through the buffer: [sensor_id, ts (epoch ms), value, data (JSON text)]. */
export type PackedEvent = [string, number, number | null, string | null]

/** The largest |epoch ms| a JavaScript Date holds; its microseconds still fit DuckDB's int64. */
export const MAX_EPOCH_MS = 8.64e15

/** Whole epoch milliseconds in a Date's range: what packEvent writes, and what writeMicros takes. */
export function isEpochMillis(ts: unknown): ts is number {
  return Number.isInteger(ts) && Math.abs(ts as number) <= MAX_EPOCH_MS
}

const TWO_32 = 2 ** 32
/** The longest string duckdb_string_t holds inline. */
const INLINE_BYTES = 12
/** Bytes of one duckdb_string_t: a 4-byte length, then the inlined bytes (or a prefix and a pointer). */
export const STRING_T_BYTES = 16

/**
 * Writes `ms` (an integer, |ms| ≤ MAX_EPOCH_MS) as int64 microseconds into `words` at
 * [2·at, 2·at+1] (low and high 32 bits), exactly: the product can pass 2^53, where a double rounds.
 */
export function writeMicros(words: Uint32Array, at: number, ms: number): void {
  const high = Math.floor(ms / TWO_32)
  const low = (ms - high * TWO_32) * 1000 // < 1000 · 2^32: exact
  const carry = Math.floor(low / TWO_32)
  words[2 * at] = low - carry * TWO_32
  words[2 * at + 1] = high * 1000 + carry // negative values wrap to their two's complement
}

/** A row's string that is not inlined: stored apart by DuckDB. */
export interface ApartString {
  row: number
  value: string
}

/** A VARCHAR column: duckdb_string_t slots (zero where not inlined), the strings set apart and the null rows, both in row order. */
export class StringSlots {
  readonly bytes: Uint8Array
  private readonly words: Uint32Array
  readonly apart: ApartString[] = []
  readonly nulls: number[] = []

  /** The slots of `rows` rows in `buffer` (all zero) from `byteOffset`. */
  constructor(rows: number, buffer = new ArrayBuffer(rows * STRING_T_BYTES), byteOffset = 0) {
    this.bytes = new Uint8Array(buffer, byteOffset, rows * STRING_T_BYTES)
    this.words = new Uint32Array(buffer, byteOffset, rows * 4)
  }

  set(row: number, s: string | null): void {
    if (s === null) {
      this.nulls.push(row)
      return
    }
    if (s.length <= INLINE_BYTES) {
      const at = row * STRING_T_BYTES + 4
      let k = 0
      for (; k < s.length; k++) {
        const c = s.charCodeAt(k)
        if (c > 0x7f) break // not ASCII: its UTF-8 length differs, DuckDB encodes it
        this.bytes[at + k] = c
      }
      if (k === s.length) {
        this.words[row * 4] = k
        return
      }
      // DuckDB compares inlined strings by all 16 bytes: a slot not inlined stays all zero.
      this.bytes.fill(0, at, at + k)
    }
    this.apart.push({ row, value: s })
  }
}

/** Bytes a row takes in an entry's buffer: two duckdb_string_t slots, int64 microseconds and a double. */
const ROW_BYTES = 2 * STRING_T_BYTES + 8 + 8
/** Entries of fewer rows get a buffer of their own, left to the garbage collector. */
export const POOLED_MIN_ROWS = 64
/** The most bytes of released buffers kept for the next entries. */
const POOL_MAX_BYTES = 8 * 1024 * 1024

/**
 * The buffers of laid-out entries, handed back once an entry is stored (EventColumns.release) and
 * reused by the next ones. The worker lays out each entry as it reads it, and a read's entries live
 * until it is stored (the read ahead waits while the one in hand is stored): long enough for V8 to
 * promote their typed arrays, which only a full GC then freed. Storing a backlog, the engine held
 * 2-22 MB of them, rising between full GCs. Buffers are kept by capacity (rows rounded up to a power
 * of two), zeroed when taken again, as a new one is.
 */
const released = new Map<number, ArrayBuffer[]>()
let releasedBytes = 0

/** A zeroed buffer for `capacity` rows: a released one when there is, for entries that are pooled. */
function takeBuffer(capacity: number): ArrayBuffer {
  const buffer = capacity < POOLED_MIN_ROWS ? undefined : released.get(capacity)?.pop()
  if (!buffer) return new ArrayBuffer(capacity * ROW_BYTES)
  releasedBytes -= buffer.byteLength
  new Uint8Array(buffer).fill(0)
  return buffer
}

function keepBuffer(capacity: number, buffer: ArrayBuffer): void {
  // Full: the buffer is left to the garbage collector. (Kept by one entry size, the pool serves no
  // other until those are taken again; entries are mostly OCEAN_ENTRY_EVENTS long.)
  if (releasedBytes + buffer.byteLength > POOL_MAX_BYTES) return
  const kept = released.get(capacity)
  if (kept) kept.push(buffer)
  else released.set(capacity, [buffer])
  releasedBytes += buffer.byteLength
}

/** Bytes of released buffers kept for reuse (for tests). */
export function keptBufferBytes(): number {
  return releasedBytes
}

/** Events as the columns (sensor_id VARCHAR, ts TIMESTAMP, value DOUBLE, data VARCHAR) hold them, in one buffer. */
export class EventColumns {
  readonly sensors: StringSlots
  /** int64 microseconds, as low and high 32-bit words. */
  readonly micros: Uint32Array
  /** 0 where the value is null. */
  readonly values: Float64Array
  /** Rows whose value is null, in order. */
  readonly valueNulls: number[] = []
  readonly data: StringSlots
  private released = false

  private constructor(
    readonly length: number,
    private readonly capacity: number,
    private readonly buffer: ArrayBuffer,
  ) {
    // Each column starts at a multiple of 8 bytes: capacity · 16, · 32 and · 40.
    this.sensors = new StringSlots(length, buffer, 0)
    this.data = new StringSlots(length, buffer, capacity * STRING_T_BYTES)
    this.micros = new Uint32Array(buffer, capacity * 2 * STRING_T_BYTES, length * 2)
    this.values = new Float64Array(buffer, capacity * (2 * STRING_T_BYTES + 8), length)
  }

  /** Lays out `events`; throws on a timestamp DuckDB cannot hold exactly (nothing is half-laid-out: the caller gets nothing). */
  static from(events: readonly PackedEvent[]): EventColumns {
    const rows = events.length
    const capacity = rows < POOLED_MIN_ROWS ? rows : 2 ** Math.ceil(Math.log2(rows))
    const c = new EventColumns(rows, capacity, takeBuffer(capacity))
    try {
      for (let n = 0; n < rows; n++) {
        const [sensor, ts, value, data] = events[n] as PackedEvent
        if (!isEpochMillis(ts)) throw new Error(`event timestamp ${ts} is not an epoch millisecond DuckDB can hold`)
        c.sensors.set(n, sensor)
        writeMicros(c.micros, n, ts)
        if (value === null) c.valueNulls.push(n)
        else c.values[n] = value
        c.data.set(n, data)
      }
    } catch (e) {
      c.release()
      throw e
    }
    return c
  }

  /**
   * Hands the buffer back for the next entries: once these events are stored or given up, never
   * while they may still be read. A pooled buffer's views (entries of POOLED_MIN_ROWS or more) are
   * detached then, so a later read throws instead of seeing another entry's events; a small entry's
   * buffer is its own and left to the garbage collector. A second call does nothing.
   */
  release(): void {
    if (this.released) return
    this.released = true
    if (this.capacity < POOLED_MIN_ROWS) return
    // Transferring detaches this entry's views; the memory moves to the new ArrayBuffer, uncopied.
    keepBuffer(this.capacity, structuredClone(this.buffer, { transfer: [this.buffer] }))
  }
}

/** Index of the first item of the ascending `rows` whose row is ≥ `row`. */
export function firstAtOrAfter<T>(items: readonly T[], row: number, rowOf: (item: T) => number): number {
  let lo = 0
  let hi = items.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (rowOf(items[mid] as T) < row) lo = mid + 1
    else hi = mid
  }
  return lo
}
