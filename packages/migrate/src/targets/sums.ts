// Target checksums of SQLite chunks computed in a worker thread while the copy goes on: each chunk is
// handed over once committed, and the verification takes the answer instead of reading the chunk
// back itself. On two cores the read-back (about a third of a copy into SQLite) then overlaps the
// next chunks' copy. Only the copy mode uses it: nothing else writes a chunk's range between its
// commit and the verification (a resumed copy's earlier chunks are read back by the verification).
import fs from 'node:fs'
import { Worker } from 'node:worker_threads'
import type { Checksum } from '../values/checksum.ts'
import type { TablePlan } from '../plan/mapping.ts'

export interface SumRequest {
  id: number
  file: string
  planJson: string
  /** The chunk's key range (lo, hi] as the source's key text. */
  lo: string[] | null
  hi: string[] | null
}

export type SumReply = { id: number; checksum: Checksum } | { id: number; error: string }

/** The worker's entry: beside the bundle in the image (dist/sums-thread.mjs), else the tsx shim beside this source. */
function workerEntry(): URL {
  const bundled = new URL('./sums-thread.mjs', import.meta.url)
  return fs.existsSync(bundled) ? bundled : new URL('./sums-worker.js', import.meta.url)
}

export class TargetSums {
  private worker: Worker | null = null
  private nextId = 1
  private readonly waiting = new Map<number, { resolve: (c: Checksum) => void; reject: (e: Error) => void }>()
  private readonly byChunk = new Map<string, Promise<Checksum>>()
  private readonly planJson = new Map<string, string>()
  private failed: Error | null = null

  constructor(private readonly file: string) {}

  private start(): Worker {
    if (this.worker) return this.worker
    const w = new Worker(workerEntry(), { execArgv: [] })
    w.unref()
    w.on('message', (m: SumReply) => {
      const p = this.waiting.get(m.id)
      if (!p) return
      this.waiting.delete(m.id)
      if ('error' in m) p.reject(new Error(`reading the chunk back failed: ${m.error}`))
      else p.resolve(m.checksum)
    })
    const fail = (e: Error) => {
      this.failed = e
      for (const p of this.waiting.values()) p.reject(e)
      this.waiting.clear()
    }
    w.on('error', fail)
    w.on('exit', (code) => {
      if (this.waiting.size) fail(new Error(`the read-back worker exited (${code})`))
      this.worker = null
    })
    this.worker = w
    return w
  }

  /** Hands a committed chunk over; its checksum is computed in the background. */
  submit(plan: TablePlan, chunkNo: number, lo: string[] | null, hi: string[] | null): void {
    if (this.failed) return
    let json = this.planJson.get(plan.id)
    if (!json) {
      json = JSON.stringify(plan)
      this.planJson.set(plan.id, json)
    }
    const id = this.nextId++
    const promise = new Promise<Checksum>((resolve, reject) => this.waiting.set(id, { resolve, reject }))
    promise.catch(() => undefined)
    this.byChunk.set(`${plan.id}\u0000${chunkNo}`, promise)
    const req: SumRequest = { id, file: this.file, planJson: json, lo, hi }
    this.start().postMessage(req)
  }

  /** Why the worker stopped answering, if it did (the verification then reads chunks back itself). */
  get failure(): Error | null {
    return this.failed
  }

  /** The checksum computed for a chunk, if it was handed over (once: taken, it is forgotten). */
  take(planId: string, chunkNo: number): Promise<Checksum> | undefined {
    const key = `${planId}\u0000${chunkNo}`
    const p = this.byChunk.get(key)
    this.byChunk.delete(key)
    return p
  }

  async close(): Promise<void> {
    const w = this.worker
    this.worker = null
    if (!w) return
    // Held while it closes its connections (it is unref'd otherwise, so it never keeps a run alive).
    w.ref()
    let timer: NodeJS.Timeout | undefined
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()))
    w.postMessage('close')
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))])
    clearTimeout(timer)
    await w.terminate()
  }
}
