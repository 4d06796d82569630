// What a one-off drain of the buffer (OCEAN_ROLE=drain) reports, on one stdout line after this
// prefix: read by the runbooks, which must not load the engine (DuckDB) to know its shape.
export const DRAIN_RESULT_PREFIX = 'OCEAN_DRAIN_RESULT '

/** The buffer is accounted for when `drained` and no entry is dead-lettered. */
export interface BufferAccount {
  drained: boolean
  /** Entries and events this run stored in DuckDB. */
  storedEntries: number
  storedEvents: number
  /** The first entry still not stored (pending or never delivered), if any. */
  oldestUnstoredId: string | null
  pendingEntries: number
  /** Entries in the dead-letter stream (acknowledged to clients, never stored), with the first ones' source ids. */
  deadLetter: { count: number; sourceIds: string[] }
}
