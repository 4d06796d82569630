// The rehearsal's clients: writes at a steady rate to the address clients use (the floating IP),
// through the whole move. Every write is retried until it is acknowledged (a refusal during a
// freeze, a cut connection when the IP moves, a 503), and each acknowledged write is remembered,
// so afterwards every one of them can be looked for on whichever side then holds the data.
export interface TrafficOptions {
  url: string
  apiKey: string
  /** Writes per second, users and telemetry events together (default 20). */
  rate?: number
  /** Names this run's users (`<prefix>-<n>`) and telemetry sensor (`<prefix>-sensor`). */
  prefix: string
  /** Every `userEvery`-th write creates a user; the others ingest one event (default 4). */
  userEvery?: number
}

export interface TrafficSummary {
  sent: { users: number; telemetry: number }
  acked: { users: number; telemetry: number }
  /** Attempts refused or cut (retried): the clients' view of the freeze. */
  retried: number
  /** A user whose create was retried after its first attempt may have committed: 409 on retry. */
  usersAckedByConflict: number
  /** Longest time a write waited for its acknowledgement. */
  longestWaitMs: number
  sensor: string
  errors: string[]
}

export class WriteTraffic {
  /** `ackedAt`: when the answer arrived here (the lab's containers share this machine's clock). */
  readonly users: Array<{ id: number; username: string; ackedAt: number }> = []
  /** The value of every acknowledged telemetry event (each event's value is unique to it). */
  readonly telemetryValues: number[] = []
  /** When each of telemetryValues was acknowledged (same order). */
  readonly telemetryAckedAt: number[] = []
  private telemetryAcked = 0
  private sent = { users: 0, telemetry: 0 }
  private retried = 0
  private conflicts = 0
  private longest = 0
  private stopping = false
  private loop?: Promise<void>
  private readonly inflight = new Set<Promise<void>>()
  /** Writes refused for good (a 4xx other than the retried 409): a bug, reported. */
  readonly errors: string[] = []

  constructor(private readonly o: TrafficOptions) {}

  get sensor(): string {
    return `${this.o.prefix}-sensor`
  }

  start(): void {
    const interval = 1000 / (this.o.rate ?? 20)
    this.loop = (async () => {
      let n = 0
      let next = performance.now()
      while (!this.stopping) {
        n++
        const p: Promise<void> = (n % (this.o.userEvery ?? 4) === 0 ? this.createUser(n) : this.ingest(n))
          .catch((e: unknown) => {
            this.errors.push((e as Error).message)
          })
          .finally(() => this.inflight.delete(p))
        this.inflight.add(p)
        next += interval
        await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())))
      }
    })()
  }

  /** Stops sending and waits (up to `drainMs`) for every write in flight to be acknowledged. */
  async stop(drainMs = 60_000): Promise<TrafficSummary> {
    this.stopping = true
    await this.loop
    const deadline = new Promise((r) => setTimeout(r, drainMs).unref())
    await Promise.race([Promise.all([...this.inflight]), deadline])
    return this.summary()
  }

  summary(): TrafficSummary {
    return {
      sent: { ...this.sent },
      acked: { users: this.users.length + this.conflicts, telemetry: this.telemetryAcked },
      retried: this.retried,
      usersAckedByConflict: this.conflicts,
      longestWaitMs: Math.round(this.longest),
      sensor: this.sensor,
      errors: this.errors.slice(0, 20),
    }
  }

  private async createUser(n: number): Promise<void> {
    this.sent.users++
    const username = `${this.o.prefix}-${n}`
    let attempt = 0
    await this.untilAcked(async () => {
      attempt++
      const res = await this.post('/api/ocean/users', { username, email: `${username}@rehearse.example` })
      if (res.status === 201) {
        const body = (await res.json()) as { id: number }
        this.users.push({ id: body.id, username, ackedAt: Date.now() })
        return true
      }
      if (res.status === 409 && attempt > 1) {
        this.conflicts++
        return true
      }
      if (res.status >= 400 && res.status < 500) throw new Error(`create user ${username}: HTTP ${res.status} ${await res.text()}`)
      return false
    })
  }

  private async ingest(n: number): Promise<void> {
    this.sent.telemetry++
    await this.untilAcked(async () => {
      const res = await this.post('/api/ocean/telemetry/ingest', { sensor_id: this.sensor, value: n, timestamp: new Date().toISOString() })
      if (res.status === 202) {
        this.telemetryAcked++
        this.telemetryValues.push(n)
        this.telemetryAckedAt.push(Date.now())
        return true
      }
      if (res.status >= 400 && res.status < 500) throw new Error(`ingest: HTTP ${res.status} ${await res.text()}`)
      return false
    })
  }

  private post(route: string, body: unknown): Promise<Response> {
    return fetch(`${this.o.url}${route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.o.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    })
  }

  private async untilAcked(attempt: () => Promise<boolean>): Promise<void> {
    const t0 = performance.now()
    for (let backoff = 50; ; backoff = Math.min(backoff * 2, 500)) {
      try {
        if (await attempt()) break
      } catch (e) {
        if (/HTTP 4\d\d/.test((e as Error).message)) throw e
      }
      this.retried++
      await new Promise((r) => setTimeout(r, backoff))
    }
    this.longest = Math.max(this.longest, performance.now() - t0)
  }
}
