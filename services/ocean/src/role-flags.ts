// The V8 heap settings of the processes the supervisor forks, each started from the supervisor's
// own flags (the image's: a 4 MB semi-space) with its heap settings replaced. Pure, unit-tested.
//
// Measured on the 2-core bench machine (scripts/bench: 2 API processes + engine, 8 s of load, two
// rounds; and bench 12's 7 API processes + engine under single events and batches):
// - API processes, the image's 4 MB semi-space and V8's default heap growth: RSS peaks 103-142 MB
//   under load while the live heap stays ~15-20 MB; what grows is garbage promoted from batches,
//   which V8 lets the old generation reach up to ~4x the live size before it marks. With the old
//   generation's limit at 1.5x its live size (--heap-growing-percent=50): 85-93 MB, the same
//   throughput (batches of 5,000: 100-109 batches/s vs 106-109; single events within the noise).
//   A 2 MB semi-space as well: 81-87 MB, but 25-35 % fewer batches of 5,000 (70-80/s); a 1 MB
//   semi-space (or --optimize-for-size, which implies it): 78-80 MB, 30-45 % fewer batches.
//   Since the JSON body rule allocates nothing per value (json-body.ts; it had cost ~12 ms a
//   5,000-event batch), a 2 MB semi-space costs the batches little: alternating bench 12 runs (7 API
//   processes + engine, single events and batches of 1,000) gave the largest API process 80.3 and
//   80.5 MB against 84.1 and 84.1 MB with 4 MB, the RSS sum 815-819 MB against 835-847 MB, with as
//   many requests answered; batches of 5,000 from 4 clients into 2 API processes + engine: 243-278 k
//   events/s accepted against 252-304 k (noisy; the engine stores beside them on the 2 cores).
//   A --heap-growing-percent below 50 gains nothing (25: largest API process 80.0 / 79.3 MB against
//   79.2 / 79.2): after a full GC V8 raises the old generation's limit by at least 8 MB whatever the
//   percent, and by 2 MB only when it optimizes for memory (--optimize-for-size, which also forces a
//   1 MB semi-space: largest API process 75.7 / 76.7 MB against 80.3 / 79.7, with 17-34 % fewer
//   single events).
// - The engine: storing a backlog once allocated ~20 MB a read, so it got a bigger semi-space than the
//   API's (1 M buffered events stored in 2.57 s with 4 MB, 2.13 s with 16 MB; 8 MB as fast as 16 MB).
//   Since an entry's columns go back to a pool once stored (event-columns.ts), it allocates less,
//   and what grew its heap was garbage promoted while a read waits for the one before it: with V8's
//   default growth the old generation reached 35-65 MB over a live heap of ~15 MB, and the engine's
//   RSS peak through bench 12's 3.4 M-event backlog swung by ±25 MB with it. Measured there (engine
//   probe, 3 runs each, DuckDB's allocator options of runtime.ts set in all): V8's heap at the RSS
//   peak 64-79 MB and RSS 269-283 MB with an 8 MB semi-space; 37-40 MB and 253-261 MB with the heap
//   growth at 1.5x; 29-30 MB and 234-252 MB with a 4 MB semi-space as well, the backlog stored in as
//   long (3.8-5.2 s against 3.8-5.9 s). Bench 11, alternating with the previous settings: 0.88-0.95x
//   the appender alone against 0.87-0.99x.

export type ForkedRole = 'api' | 'engine'

/** The heap settings each forked role runs with, replacing the supervisor's. */
export const ROLE_HEAP_FLAGS: Record<ForkedRole, string[]> = {
  api: ['--max-semi-space-size=2', '--heap-growing-percent=50'],
  engine: ['--max-semi-space-size=4', '--heap-growing-percent=50'],
}

const HEAP_FLAG = /^--(max-semi-space-size|min-semi-space-size|heap-growing-percent|optimize-for-size)(=|$)/

/** `parent`'s flags (process.execArgv) with its heap settings replaced by the role's. */
export function roleExecArgv(role: ForkedRole, parent: readonly string[]): string[] {
  return [...parent.filter((a) => !HEAP_FLAG.test(a)), ...ROLE_HEAP_FLAGS[role]]
}
