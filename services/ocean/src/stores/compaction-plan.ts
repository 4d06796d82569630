// Decides when telemetry is compacted, without touching the database (so it is unit-tested):
// the hot table (arrival order) becomes a sorted partition when it is big or old enough, and
// size-tiered merges keep the number of sorted partitions logarithmic in the data size.
export interface Partition {
  name: string
  rows: number
}

export type CompactionStep =
  | { kind: 'none' }
  | { kind: 'seal-hot' }
  | { kind: 'merge'; partitions: string[] }

export interface CompactionInput {
  hotRows: number
  hotAgeMs: number
  partitions: Partition[]
  hotMaxRows: number
  hotMaxAgeMs: number
  /** How many partitions of one size tier trigger a merge. */
  fanIn?: number
}

/** Size tier of a partition: 0 for up to hotMaxRows, then one tier per factor of fanIn. */
export function tierOf(rows: number, hotMaxRows: number, fanIn: number): number {
  let tier = 0
  for (let limit = hotMaxRows; rows > limit; limit *= fanIn) tier++
  return tier
}

export function nextCompaction(input: CompactionInput): CompactionStep {
  const fanIn = input.fanIn ?? 4
  if (input.hotRows >= input.hotMaxRows || (input.hotRows > 0 && input.hotAgeMs >= input.hotMaxAgeMs)) {
    return { kind: 'seal-hot' }
  }
  const tiers = new Map<number, Partition[]>()
  for (const p of input.partitions) {
    const t = tierOf(p.rows, input.hotMaxRows, fanIn)
    tiers.set(t, [...(tiers.get(t) ?? []), p])
  }
  // Merge the lowest full tier first: small partitions cost the most per row at query time.
  for (const t of [...tiers.keys()].sort((a, b) => a - b)) {
    const group = tiers.get(t) ?? []
    if (group.length >= fanIn) return { kind: 'merge', partitions: group.slice(0, fanIn).map((p) => p.name) }
  }
  return { kind: 'none' }
}

/** 2^64: hash() gives a UBIGINT, so sort keys lie in [0, 2^64). */
const SORT_KEY_SPACE = 1n << 64n

/**
 * Splits the sort key's range into as many equal slices as it takes for `rows` evenly spread rows to
 * come to at most `maxSliceRows` a slice: [from, to) each, `to` null for the last. A merge sorts one
 * slice at a time, so its sort holds about one slice's rows whatever the partitions' size (rows
 * of one sensor share a key: a sensor with more rows than that still sorts in one slice).
 */
export interface SortKeySlice {
  from: bigint
  to: bigint | null
}

export function sortKeySlices(rows: number, maxSliceRows: number): SortKeySlice[] {
  const count = Math.max(1, Math.ceil(rows / Math.max(1, maxSliceRows)))
  const width = SORT_KEY_SPACE / BigInt(count)
  return Array.from({ length: count }, (_, i) => ({ from: width * BigInt(i), to: i === count - 1 ? null : width * BigInt(i + 1) }))
}

/** The SQL condition on `sk` that keeps the rows of one slice. */
export function sliceCondition({ from, to }: SortKeySlice): string {
  return `sk >= ${from}::UBIGINT${to === null ? '' : ` AND sk < ${to}::UBIGINT`}`
}
