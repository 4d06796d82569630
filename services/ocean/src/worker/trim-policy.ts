// When the ingest worker trims stored entries from the Redis stream (pure, unit-tested).

/**
 * Stored entries stay in the stream until the next trim. Trimmed only once a second, they were most
 * of Redis's memory while a backlog was stored: at bench 10's 758 k events/s, ~24 MB of stored events
 * beside the 200,000 unstored ones the backlog bound allows (~6.6 MB). So the worker also trims as
 * soon as this many events were acknowledged since the last trim (a few reads of a backlog).
 */
export const TRIM_EVERY_EVENTS = 50_000

/**
 * How many acknowledged events trigger a trim under a backlog bound of `backlogMaxEvents` (0: no
 * bound): TRIM_EVERY_EVENTS, or a quarter of a smaller bound, so that stored entries waiting for the
 * trim never outweigh the unstored ones the bound allows.
 */
export function trimEveryEvents(backlogMaxEvents: number): number {
  if (backlogMaxEvents <= 0) return TRIM_EVERY_EVENTS
  return Math.max(1, Math.min(TRIM_EVERY_EVENTS, Math.floor(backlogMaxEvents / 4)))
}
