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

  constructor(rows: number) {
    this.bytes = new Uint8Array(rows * STRING_T_BYTES)
    this.words = new Uint32Array(this.bytes.buffer)
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

/** Events as the columns (sensor_id VARCHAR, ts TIMESTAMP, value DOUBLE, data VARCHAR) hold them. */
export class EventColumns {
  readonly sensors: StringSlots
  /** int64 microseconds, as low and high 32-bit words. */
  readonly micros: Uint32Array
  /** 0 where the value is null. */
  readonly values: Float64Array
  /** Rows whose value is null, in order. */
  readonly valueNulls: number[] = []
  readonly data: StringSlots

  private constructor(readonly length: number) {
    this.sensors = new StringSlots(length)
    this.micros = new Uint32Array(length * 2)
    this.values = new Float64Array(length)
    this.data = new StringSlots(length)
  }

  /** Lays out `events`; throws on a timestamp DuckDB cannot hold exactly (nothing is half-laid-out: the caller gets nothing). */
  static from(events: readonly PackedEvent[]): EventColumns {
    const c = new EventColumns(events.length)
    for (let n = 0; n < events.length; n++) {
      const [sensor, ts, value, data] = events[n] as PackedEvent
      if (!isEpochMillis(ts)) throw new Error(`event timestamp ${ts} is not an epoch millisecond DuckDB can hold`)
      c.sensors.set(n, sensor)
      writeMicros(c.micros, n, ts)
      if (value === null) c.valueNulls.push(n)
      else c.values[n] = value
      c.data.set(n, data)
    }
    return c
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
