// Chunk checksums over canonical rows, and the narrowing of a mismatch down to keys.
// A chunk's checksum is its row count and the sum (mod 2^64, as two 32-bit lanes) of a 64-bit
// hash of each canonical row: order does not matter, so the source can stream in key order while
// the target is read in any order, and the sums of chunks add up to the table's (like
// pt-table-checksum's chunks, but comparable across engines). DuckDB computes its own sums natively
// (count + sum of hash() over typed columns, written 'd:<decimal>'); they are compared with DuckDB
// sums of the source rows staged into DuckDB, never with the JS lanes ('j:<hex>').

export interface Checksum {
  rows: number
  /** 'j:' + 16 hex digits (JS row hashes), or 'd:' + decimal (DuckDB hash sums). */
  sum: string
}

export const EMPTY_J: Checksum = { rows: 0, sum: 'j:0000000000000000' }

const NULL_MARK = 0x10000
const FIELD_END = 0x10001

let H1 = 0
let H2 = 0

function fmix(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Hashes one canonical row (NULL distinct from every text) into H1/H2. */
function hashInto(fields: readonly (string | null)[]): void {
  let a = 0x811c9dc5
  let b = 0x9747b28c
  for (let f = 0; f < fields.length; f++) {
    const s = fields[f]
    if (s === null || s === undefined) {
      a = Math.imul(a ^ NULL_MARK, 0x01000193)
      b = Math.imul(b ^ NULL_MARK, 0x5bd1e995)
    } else {
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i)
        a = Math.imul(a ^ c, 0x01000193)
        b = Math.imul(b ^ c, 0x5bd1e995)
        b ^= b >>> 15
      }
    }
    a = Math.imul(a ^ FIELD_END, 0x01000193)
    b = Math.imul(b ^ FIELD_END, 0x5bd1e995)
  }
  H1 = fmix(a ^ Math.imul(b, 0x27d4eb2f))
  H2 = fmix(b ^ Math.imul(a, 0x165667b1))
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0')

/** The 64-bit hash of one canonical row, as 16 hex digits (for narrowing down to rows). */
export function rowHash(fields: readonly (string | null)[]): string {
  hashInto(fields)
  return hex8(H1) + hex8(H2)
}

/** Accumulates canonical rows into a checksum. */
export class RowSum {
  rows = 0
  private s1 = 0
  private s2 = 0

  add(fields: readonly (string | null)[]): void {
    hashInto(fields)
    this.s1 = (this.s1 + H1) >>> 0
    this.s2 = (this.s2 + H2) >>> 0
    this.rows++
  }

  /** Adds a hash as rowHash() returned it. */
  addHash(hex: string): void {
    this.s1 = (this.s1 + parseInt(hex.slice(0, 8), 16)) >>> 0
    this.s2 = (this.s2 + parseInt(hex.slice(8, 16), 16)) >>> 0
    this.rows++
  }

  checksum(): Checksum {
    return { rows: this.rows, sum: `j:${hex8(this.s1)}${hex8(this.s2)}` }
  }
}

/** The checksum of two disjoint sets of rows. */
export function combine(a: Checksum, b: Checksum): Checksum {
  const ka = a.sum.slice(0, 2)
  const kb = b.sum.slice(0, 2)
  if (a.rows === 0 && a.sum === EMPTY_J.sum) return b
  if (b.rows === 0 && b.sum === EMPTY_J.sum) return a
  if (ka !== kb) throw new Error(`cannot combine checksums of different kinds (${a.sum}, ${b.sum})`)
  if (ka === 'd:') return { rows: a.rows + b.rows, sum: `d:${BigInt(a.sum.slice(2)) + BigInt(b.sum.slice(2))}` }
  const s1 = (parseInt(a.sum.slice(2, 10), 16) + parseInt(b.sum.slice(2, 10), 16)) >>> 0
  const s2 = (parseInt(a.sum.slice(10, 18), 16) + parseInt(b.sum.slice(10, 18), 16)) >>> 0
  return { rows: a.rows + b.rows, sum: `j:${hex8(s1)}${hex8(s2)}` }
}

/**
 * A 'j:' checksum with some rows taken out and others put in, each given as its rowHash(): how a
 * chunk's checksum follows the rows a change log names without reading the chunk again.
 */
export function adjustChecksum(c: Checksum, remove: readonly string[], add: readonly string[]): Checksum {
  if (!c.sum.startsWith('j:')) throw new Error(`only row-hash checksums can be adjusted (${c.sum})`)
  let s1 = parseInt(c.sum.slice(2, 10), 16)
  let s2 = parseInt(c.sum.slice(10, 18), 16)
  for (const h of remove) {
    s1 = (s1 - parseInt(h.slice(0, 8), 16)) >>> 0
    s2 = (s2 - parseInt(h.slice(8, 16), 16)) >>> 0
  }
  for (const h of add) {
    s1 = (s1 + parseInt(h.slice(0, 8), 16)) >>> 0
    s2 = (s2 + parseInt(h.slice(8, 16), 16)) >>> 0
  }
  return { rows: c.rows - remove.length + add.length, sum: `j:${hex8(s1)}${hex8(s2)}` }
}

export function sameChecksum(a: Checksum, b: Checksum): boolean {
  return a.rows === b.rows && a.sum === b.sum
}

export function formatChecksum(c: Checksum): string {
  return `${c.rows} rows, ${c.sum}`
}

/** A bucket (0..buckets-1) for a canonical key, to narrow a table whose keys cannot be compared by range. */
export function bucketOf(key: string, buckets: number): number {
  hashInto([key])
  return H1 % buckets
}

export interface RowDiff {
  /** Keys in the source whose row the target lacks. */
  missing: string[]
  /** Keys in the target that the source does not have. */
  extra: string[]
  /** Keys present on both sides with different contents. */
  changed: string[]
}

/** Compares keyed rows (canonical key -> row hash). Keys are returned sorted, all of them. */
export function diffKeyed(source: Map<string, string>, target: Map<string, string>): RowDiff {
  const missing: string[] = []
  const extra: string[] = []
  const changed: string[] = []
  for (const [k, h] of source) {
    const t = target.get(k)
    if (t === undefined) missing.push(k)
    else if (t !== h) changed.push(k)
  }
  for (const k of target.keys()) if (!source.has(k)) extra.push(k)
  const sort = (a: string[]) => a.sort(compareKeys)
  return { missing: sort(missing), extra: sort(extra), changed: sort(changed) }
}

/** Compares multisets of row hashes (tables without a key): how many of each hash each side lacks. */
export function diffMultiset(source: Map<string, number>, target: Map<string, number>): { missing: number; extra: number } {
  let missing = 0
  let extra = 0
  for (const [h, n] of source) {
    const m = target.get(h) ?? 0
    if (n > m) missing += n - m
  }
  for (const [h, n] of target) {
    const m = source.get(h) ?? 0
    if (n > m) extra += n - m
  }
  return { missing, extra }
}

/** Orders canonical keys (JSON arrays of key parts) part by part, integers as numbers, else as text. */
export function compareKeys(a: string, b: string): number {
  const pa = keyParts(a)
  const pb = keyParts(b)
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] ?? ''
    const y = pb[i] ?? ''
    if (x === y) continue
    if (/^-?\d+$/.test(x) && /^-?\d+$/.test(y)) return BigInt(x) < BigInt(y) ? -1 : 1
    return x < y ? -1 : 1
  }
  return pa.length - pb.length
}

function keyParts(k: string): string[] {
  try {
    const v = JSON.parse(k) as unknown
    if (Array.isArray(v)) return v.map((x) => String(x))
  } catch {
    // not JSON: a plain key
  }
  return [k]
}

/** A short human description of a diff, naming keys (at most `max` of each). */
export function describeDiff(d: RowDiff, max = 5): string {
  const part = (label: string, keys: string[]) =>
    keys.length === 0 ? '' : `${keys.length} ${label} (${keys.slice(0, max).join(', ')}${keys.length > max ? ', …' : ''})`
  return [part('missing in target', d.missing), part('only in target', d.extra), part('different', d.changed)].filter(Boolean).join('; ') || 'no row differs'
}
