// Entry of the target-sums worker thread. Plain JavaScript: a worker does not inherit the tsx
// registration of a parent that registered it in-process (bin/ocean-ops.js), and it is started
// without the parent's flags (--import tsx or not), so it registers tsx itself (resolved from this
// package), then loads the TypeScript worker.
import { register } from 'tsx/esm/api'

register()
await import('./sums-thread.ts')
