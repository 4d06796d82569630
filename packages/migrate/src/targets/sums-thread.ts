// The worker side of target-sums.ts: reads committed chunks of a SQLite target back on a read-only
// connection of its own and answers each with its checksum over the canonical row form, computed as
// the verification computes it (targetRangeSum) — on another core than the copy.
import { parentPort } from 'node:worker_threads'
import Database from 'better-sqlite3'
import type { TablePlan } from '../plan/mapping.ts'
import { RowConverter } from '../plan/row-converter.ts'
import { targetRangeSum } from './sqlite.ts'
import type { SumReply, SumRequest } from './sums.ts'

if (!parentPort) throw new Error('target-sums-thread runs as a worker thread')
const port = parentPort
const dbs = new Map<string, Database.Database>()
const converters = new Map<string, RowConverter>()

function answer(req: SumRequest): SumReply {
  let db = dbs.get(req.file)
  if (!db) {
    db = new Database(req.file, { readonly: true, fileMustExist: true })
    dbs.set(req.file, db)
  }
  let conv = converters.get(req.planJson)
  if (!conv) {
    conv = new RowConverter(JSON.parse(req.planJson) as TablePlan)
    converters.set(req.planJson, conv)
  }
  return { id: req.id, checksum: targetRangeSum(db, conv, req.lo, req.hi) }
}

port.on('message', (req: SumRequest | 'close') => {
  if (req === 'close') {
    for (const db of dbs.values()) db.close()
    port.close()
    return
  }
  try {
    port.postMessage(answer(req))
  } catch (e) {
    port.postMessage({ id: req.id, error: (e as Error).message })
  }
})
