// Benchmark 9: backups of the default seed (100,000 users, 5 M telemetry rows; quick: 20,000 and
// 1 M) into a local restic repository, with the backup tool's own code (backupRound, restoreAt,
// drill) against the service running as its image runs it and a Redis with its AOF: the first
// round and an incremental one (time, bytes, repository growth), a restore and the drill, each
// beside a plain `cp` of the same live files; then the agent's schedule under steady client writes,
// sampling every second how old the newest backup is (the data a lost disk would cost) against the
// RPO (users 60 s; telemetry the DuckDB interval + 60 s). All traffic goes to 127.0.0.1.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { startRedis, type RedisServer } from '../lib/loopback-servers.ts'
import { spawnOcean } from '../../test/helpers/ocean-process.ts'
import { openSqlite } from '../../services/ocean/src/stores/sqlite-db.ts'
import { TelemetryStore } from '../../services/ocean/src/stores/duckdb-store.ts'
import { ensureRepository, mustRestic, type BackupSettings } from '../../packages/migrate/src/backup/backup-settings.ts'
import { restoreArgs } from '../../packages/migrate/src/backup/restic-commands.ts'
import { backupRound, type RoundResult } from '../../packages/migrate/src/backup/backup-round.ts'
import { drill, restoreAt } from '../../packages/migrate/src/backup/backup-restore.ts'
import { API_KEY, AUTH, track } from './processes.ts'
import { atLeast, atMost, fmt, row, type BenchContext } from './report.ts'

const MB = 1e6
const SENSORS = 1000
const INCREMENT = { users: 1000, events: 10_000 }
/** The steady writer: users and events per second, sent in ticks of 100 ms. */
const WRITE = { usersPerS: 50, eventsPerS: 200, tickMs: 100 }
const USERS_RPO_S = 60

interface Sizes {
  users: number
  telemetry: number
  sqliteSeconds: number
  duckdbSeconds: number
  steadySeconds: number
}

const sizes = (quick: boolean): Sizes =>
  quick ? { users: 20_000, telemetry: 1_000_000, sqliteSeconds: 10, duckdbSeconds: 40, steadySeconds: 60 } : { users: 100_000, telemetry: 5_000_000, sqliteSeconds: 30, duckdbSeconds: 120, steadySeconds: 180 }

const FIRST = ['anna', 'ben', 'clara', 'david', 'emma', 'felix', 'greta', 'hugo', 'ida', 'jonas', 'karla', 'leon', 'mia', 'noah', 'olga', 'paul']
const LAST = ['schmidt', 'meyer', 'weber', 'fischer', 'wagner', 'becker', 'hoffmann', 'koch', 'richter', 'klein', 'wolf', 'neumann', 'braun', 'zimmermann']
const DOMAINS = ['example.org', 'mail.example.net', 'example.com', 'users.example.de']

/** Users with realistic text and their billing accounts, in one transaction, before the service owns the file. */
function seedUsers(dataDir: string, n: number): void {
  const db = openSqlite(dataDir)
  try {
    const user = db.prepare('INSERT INTO users (id, username, email, created_at, updated_at) VALUES (?, ?, ?, ?, ?)')
    const billing = db.prepare('INSERT INTO billing_accounts (user_id, credits, usage, updated_at) VALUES (?, ?, ?, ?)')
    const since = Date.now() - 3 * 365 * 86_400_000
    db.transaction(() => {
      for (let id = 1; id <= n; id++) {
        const name = `${FIRST[id % FIRST.length]}.${LAST[(id * 7) % LAST.length]}${id}`
        const created = new Date(since + Math.floor((id / n) * 3 * 365 * 86_400_000)).toISOString()
        const updated = new Date(Date.parse(created) + (id % 97) * 3_600_000).toISOString()
        user.run(id, name, `${name}@${DOMAINS[id % DOMAINS.length]}`, created, updated)
        billing.run(id, (id * 7919) % 10_000, (id * 104_729) % 5000, updated)
      }
    })()
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
  }
}

/** Telemetry over the last 30 days, appended in bulk and compacted as the worker would, so the service starts on sorted partitions. */
async function seedTelemetry(dataDir: string, n: number): Promise<void> {
  const store = await TelemetryStore.open({ dataDir, memoryLimit: '1GB', threads: 2, hotMaxRows: 200_000, hotMaxAgeMs: 60_000 })
  try {
    const from = Date.now() - 30 * 86_400_000
    const chunk = 1_000_000
    for (let start = 0, k = 1; start < n; start += chunk, k++) {
      const end = Math.min(n, start + chunk)
      await store.appendSelect(
        `0-${k}`,
        `SELECT 'sensor-' || lpad(CAST(i % ${SENSORS} AS VARCHAR), 4, '0'),
                make_timestamp(CAST((${from} + i * ${Math.floor((30 * 86_400_000) / n)}) * 1000 AS BIGINT)),
                round((hash(i) % 100000) / 100.0, 2),
                CASE WHEN i % 10 = 0 THEN '{"battery":' || (i % 100) || ',"fw":"1.4.' || (i % 7) || '"}' END
         FROM range(${start}, ${end}) t(i)`,
      )
    }
    for (let steps = 0; steps < 20 && (await store.compact()).kind !== 'none'; steps++);
  } finally {
    store.close()
  }
}

const bytesOf = (files: string[]): number => files.reduce((a, f) => a + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0)
const du = (dir: string): number => Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0])

interface Service {
  base: string
  redis: RedisServer
  stop(): Promise<void>
}

/** The service as its image runs it (bundled, one process) on our data directory, beside a Redis with its AOF on. */
async function startService(dataDir: string): Promise<Service> {
  const redis = await startRedis({ appendonly: true })
  const stopRedis = track(() => redis.stop())
  const ocean = await spawnOcean({ OCEAN_API_KEY: API_KEY, REDIS_URL: redis.url, OCEAN_DATA_DIR: dataDir, OCEAN_API_PROCESSES: '0' })
  const pid = ocean.child.pid as number
  const stopOcean = track(async () => {
    const timer = setTimeout(() => {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone meanwhile
      }
    }, 30_000)
    await ocean.stop()
    clearTimeout(timer)
  })
  const stop = track(async () => {
    await stopOcean()
    await stopRedis()
  })
  try {
    await ocean.ready(120_000)
  } catch (e) {
    await stop()
    throw e
  }
  return { base: ocean.base, redis, stop }
}

async function call<T>(base: string, method: string, route: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${base}/api/ocean${route}`, {
    method,
    headers: { ...AUTH, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  })
  const text = await res.text()
  return { status: res.status, json: (text ? JSON.parse(text) : null) as T }
}

const events = (n: number, tag: number) => ({
  events: Array.from({ length: n }, (_, i) => ({ sensor_id: `sensor-${String((tag + i) % SENSORS).padStart(4, '0')}`, timestamp: Date.now() - 1000 + (i % 1000), value: Math.round(Math.sin(tag + i) * 1e4) / 100 })),
})

/** 1,000 users and 10,000 events through the API, then until DuckDB holds the events (bounded). */
async function addIncrement(base: string, stored: number): Promise<void> {
  for (let i = 0; i < INCREMENT.users; i += 10) {
    const rs = await Promise.all(Array.from({ length: 10 }, (_, j) => call(base, 'POST', '/users', { username: `incr-${i + j}`, email: `incr-${i + j}@example.org` })))
    const bad = rs.find((r) => r.status !== 201)
    if (bad) throw new Error(`POST /users answered ${bad.status}: ${JSON.stringify(bad.json).slice(0, 200)}`)
  }
  for (let i = 0; i < INCREMENT.events; i += 2000) {
    const r = await call(base, 'POST', '/telemetry/batch', events(2000, i))
    if (r.status !== 202) throw new Error(`POST /telemetry/batch answered ${r.status}: ${JSON.stringify(r.json).slice(0, 200)}`)
  }
  const deadline = Date.now() + 60_000
  for (;;) {
    const s = await call<{ telemetry: { rows?: number } }>(base, 'GET', '/status')
    if ((s.json.telemetry.rows ?? 0) >= stored + INCREMENT.events) return
    if (Date.now() > deadline) throw new Error(`DuckDB holds ${s.json.telemetry.rows} of ${stored + INCREMENT.events} rows after 60 s`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

interface Writer {
  users: number
  events: number
  failures: string[]
  done: Promise<void>
  stop(): void
}

/** ~50 users/s and ~200 events/s to the service, one tick every 100 ms, until stopped or `maxMs` (no catch-up bursts). */
function steadyWriter(base: string, maxMs: number): Writer {
  const w: Writer = { users: 0, events: 0, failures: [], done: Promise.resolve(), stop: () => undefined }
  let stopped = false
  w.stop = () => (stopped = true)
  const perTick = { users: (WRITE.usersPerS * WRITE.tickMs) / 1000, events: (WRITE.eventsPerS * WRITE.tickMs) / 1000 }
  const t0 = Date.now()
  w.done = (async () => {
    for (let tick = 0; !stopped && Date.now() - t0 < maxMs; tick++) {
      const due = t0 + tick * WRITE.tickMs
      if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()))
      const sends = [
        ...Array.from({ length: perTick.users }, (_, j) => {
          const n = tick * perTick.users + j
          return call(base, 'POST', '/users', { username: `steady-${n}`, email: `steady-${n}@example.org` }).then((r) => (r.status === 201 ? void w.users++ : void w.failures.push(`users ${r.status}`)))
        }),
        call(base, 'POST', '/telemetry/batch', events(perTick.events, tick)).then((r) => (r.status === 202 ? void (w.events += perTick.events) : void w.failures.push(`batch ${r.status}`))),
      ]
      await Promise.all(sends.map((p) => p.catch((e: Error) => void w.failures.push(e.message))))
    }
  })()
  return w
}

interface Steady {
  rounds: { startedAt: number; doneAt: number; duckdb: boolean; sqliteAt: number; redisAt: number | null; ms: number; bytesAdded: number; repoGrowth: number }[]
  usersAge: number[]
  telemetryAge: number[]
  /** Exact peaks: just before each round completed, the previous round's age. */
  usersPeak: number
  telemetryPeak: number
  writer: { users: number; events: number; failures: string[] }
}

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number)
}

/**
 * The agent's loop (backup-main.ts), bounded: a round every sqliteSeconds, with DuckDB every
 * duckdbSeconds, the next one due from the start of the last. Sampling starts when the loop's
 * first round is done (before it, the age still counts the one-off rounds above) and lasts
 * steadySeconds; no round starts after that, the one in flight is waited for.
 */
async function steadyRounds(ctx: BenchContext, s: BackupSettings, z: Sizes, base: string, last: RoundResult): Promise<Steady> {
  const rounds: Steady['rounds'] = []
  let newestUsers = Date.parse(last.manifest.sqliteAt)
  let newestTelemetry = Date.parse(last.manifest.redisAt ?? last.manifest.sqliteAt)
  const usersAge: number[] = []
  const telemetryAge: number[] = []
  let usersPeak = 0
  let telemetryPeak = 0
  let sampleUntil = Infinity
  let sampler: NodeJS.Timeout | undefined
  let repoBefore = du(s.target.repository)
  const writer = steadyWriter(base, (z.steadySeconds + 10 * z.duckdbSeconds) * 1000)
  try {
    let nextSqlite = 0
    let nextDuck = 0
    const hardEnd = Date.now() + (z.steadySeconds + 10 * z.duckdbSeconds) * 1000
    while (Date.now() < Math.min(sampleUntil, hardEnd)) {
      const now = Date.now()
      if (now >= nextSqlite) {
        const duckdb = now >= nextDuck
        nextSqlite = now + z.sqliteSeconds * 1000
        if (duckdb) nextDuck = now + z.duckdbSeconds * 1000
        const r = await backupRound(s, { duckdb })
        const doneAt = Date.now()
        const repoNow = du(s.target.repository)
        if (sampler) {
          usersPeak = Math.max(usersPeak, (doneAt - newestUsers) / 1000)
          if (duckdb) telemetryPeak = Math.max(telemetryPeak, (doneAt - newestTelemetry) / 1000)
        }
        newestUsers = Date.parse(r.manifest.sqliteAt)
        if (r.manifest.redisAt) newestTelemetry = Date.parse(r.manifest.redisAt)
        rounds.push({ startedAt: now, doneAt, duckdb, sqliteAt: newestUsers, redisAt: r.manifest.redisAt ? Date.parse(r.manifest.redisAt) : null, ms: r.ms.total, bytesAdded: r.bytesAdded, repoGrowth: repoNow - repoBefore })
        ctx.log(`   round ${rounds.length} [${r.tags.join(',')}] ${fmt(r.ms.total / 1000)} s, ${fmt(r.bytesAdded / MB)} MB added, repository +${fmt((repoNow - repoBefore) / MB)} MB`)
        repoBefore = repoNow
        if (!sampler) {
          sampleUntil = Date.now() + z.steadySeconds * 1000
          sampler = setInterval(() => {
            usersAge.push((Date.now() - newestUsers) / 1000)
            telemetryAge.push((Date.now() - newestTelemetry) / 1000)
          }, 1000)
        }
      }
      await new Promise((r) => setTimeout(r, 1000))
    }
    // The end of the window counts too: the age the newest backup had when sampling stopped.
    usersPeak = Math.max(usersPeak, (Date.now() - newestUsers) / 1000)
    telemetryPeak = Math.max(telemetryPeak, (Date.now() - newestTelemetry) / 1000)
  } finally {
    if (sampler) clearInterval(sampler)
    writer.stop()
    await writer.done
  }
  return { rounds, usersAge, telemetryAge, usersPeak, telemetryPeak, writer: { users: writer.users, events: writer.events, failures: writer.failures.slice(0, 5) } }
}

export async function backupBench(ctx: BenchContext): Promise<void> {
  const z = sizes(ctx.quick)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-bench-backup-'))
  // Registered first, so on Ctrl-C it runs after the service has stopped.
  const removeTmp = track(async () => fs.rmSync(tmp, { recursive: true, force: true }))
  const dataDir = path.join(tmp, 'data')
  const details: Record<string, unknown> = { sizes: z }
  let service: Service | undefined
  try {
    ctx.log(`9: seeding ${fmt(z.users)} users and ${fmt(z.telemetry)} telemetry rows`)
    let t = performance.now()
    seedUsers(dataDir, z.users)
    await seedTelemetry(dataDir, z.telemetry)
    details.seedS = (performance.now() - t) / 1000
    service = await startService(dataDir)
    const live = ['ocean.db', 'ocean.db-wal', 'telemetry.duckdb', 'telemetry.duckdb.wal'].map((f) => path.join(dataDir, f))

    fs.writeFileSync(path.join(tmp, 'password'), 'bench horse battery staple', { mode: 0o600 })
    const repo = path.join(tmp, 'repo')
    const s: BackupSettings = {
      target: { repository: repo, passwordFile: path.join(tmp, 'password'), cacheDir: path.join(tmp, 'cache', 'restic') },
      host: 'ocean-bench',
      sqliteSeconds: z.sqliteSeconds,
      duckdbSeconds: z.duckdbSeconds,
      retention: { hourly: 48, daily: 30, monthly: 12 },
      apiUrl: service.base,
      apiKey: API_KEY,
      dataDir,
      redisDir: service.redis.dir,
      cacheDir: path.join(tmp, 'cache'),
    }
    await ensureRepository(s.target)

    ctx.log('9: baseline: cp of ocean.db and telemetry.duckdb')
    const liveBytes = bytesOf(live)
    const scratch = path.join(tmp, 'cp')
    fs.mkdirSync(scratch)
    t = performance.now()
    execFileSync('cp', [path.join(dataDir, 'ocean.db'), path.join(dataDir, 'telemetry.duckdb'), scratch])
    const cpS = (performance.now() - t) / 1000
    fs.rmSync(scratch, { recursive: true, force: true })
    ctx.log(`   ${fmt(liveBytes / MB)} MB in ${fmt(cpS)} s`)
    const cp = { name: `cp of the live files (${fmt(liveBytes / MB)} MB)`, value: cpS }

    ctx.log('9: first round (SQLite, DuckDB, AOF)')
    const first = await backupRound(s, { duckdb: true })
    const repoFirst = du(repo)
    const sqliteSnapBytes = bytesOf([path.join(dataDir, 'snapshots', 'sqlite', 'ocean.db')])
    const snapBytes = bytesOf([path.join(dataDir, 'snapshots', 'sqlite', 'ocean.db'), path.join(dataDir, 'snapshots', 'duckdb', 'telemetry.duckdb')])
    const split = (r: RoundResult) => `redis ${fmt(r.ms.redis / 1000)} + snapshot ${fmt(r.ms.snapshot / 1000)} + sums ${fmt(r.ms.sums / 1000)} + restic ${fmt(r.ms.restic / 1000)} s`
    ctx.log(`   ${fmt(first.ms.total / 1000)} s (${split(first)}), ${fmt(first.bytesAdded / MB)} MB added, repository ${fmt(repoFirst / MB)} MB`)

    ctx.log(`9: ${fmt(INCREMENT.users)} new users and ${fmt(INCREMENT.events)} new events, then an incremental round`)
    await addIncrement(service.base, z.telemetry)
    const second = await backupRound(s, { duckdb: true })
    const repoSecond = du(repo)
    ctx.log(`   ${fmt(second.ms.total / 1000)} s (${split(second)}), ${fmt(second.bytesAdded / MB)} MB added, repository +${fmt((repoSecond - repoFirst) / MB)} MB`)

    ctx.log('9: restore of the newest backup into an empty directory')
    const restored = await restoreAt(s, new Date(), path.join(tmp, 'restored'))
    const restoredUsers = (() => {
      const db = new Database(path.join(restored.dir, 'ocean.db'), { readonly: true })
      try {
        return Number(db.prepare('SELECT count(*) AS n FROM users').pluck().get())
      } finally {
        db.close()
      }
    })()
    fs.rmSync(restored.dir, { recursive: true, force: true })
    // restoreAt restores the users' snapshot and the telemetry's; here both are the same one.
    t = performance.now()
    await mustRestic(s.target, restoreArgs(second.snapshotId, path.join(tmp, 'restic-once')), 'restic restore')
    const resticOnceS = (performance.now() - t) / 1000
    fs.rmSync(path.join(tmp, 'restic-once'), { recursive: true, force: true })
    ctx.log(`   ${fmt(restored.ms / 1000)} s, ${fmt(restoredUsers)} users; one restic restore of that snapshot alone ${fmt(resticOnceS)} s`)

    ctx.log('9: drill')
    const d = await drill(s)
    ctx.log(`   ${d.ok ? 'ok' : `FAILED: ${d.problems.join('; ')}`} in ${fmt(d.totalMs / 1000)} s (restore ${fmt(d.restoreMs / 1000)} s)`)

    ctx.log(`9: the agent's schedule (SQLite every ${z.sqliteSeconds} s, DuckDB every ${z.duckdbSeconds} s) for ${z.steadySeconds} s under ${WRITE.usersPerS} users/s + ${WRITE.eventsPerS} events/s`)
    const steady = await steadyRounds(ctx, s, z, service.base, second)
    const usersSorted = [...steady.usersAge].sort((a, b) => a - b)
    const telSorted = [...steady.telemetryAge].sort((a, b) => a - b)
    const w = steady.writer
    ctx.log(`   users: age max ${fmt(usersSorted.at(-1) ?? NaN)} s, p95 ${fmt(pct(usersSorted, 95))} s; telemetry: max ${fmt(telSorted.at(-1) ?? NaN)} s; ${steady.rounds.length} rounds; writer ${w.users} users, ${w.events} events, ${w.failures.length} failures`)

    const label = `${fmt(z.users)} users + ${fmt(z.telemetry / 1e6)} M rows`
    const telRpo = z.duckdbSeconds + 60
    const writes = `${w.users} users + ${w.events} events written meanwhile${w.failures.length ? `, failures: ${w.failures.join(', ')}` : ''}`
    ctx.rows.push(
      row('9', `backup: first round (SQLite + DuckDB + AOF), ${label}`, first.ms.total / 1000, 's', { baseline: cp, note: split(first) }),
      row('9', 'backup: repository size after the first round', repoFirst / MB, 'MB', {
        baseline: { name: 'live ocean.db + telemetry.duckdb', value: liveBytes / MB },
        note: `restic's data_added ${fmt(first.bytesAdded / MB)} MB (before compression); the round's snapshot files ${fmt(snapBytes / MB)} MB`,
      }),
      row('9', `backup: incremental round after ${fmt(INCREMENT.users)} users + ${fmt(INCREMENT.events)} events`, second.ms.total / 1000, 's', { baseline: { name: 'the first round', value: first.ms.total / 1000 }, note: split(second) }),
      row('9', 'backup: bytes the incremental round added (restic data_added, before compression)', second.bytesAdded / MB, 'MB', { baseline: { name: 'the first round', value: first.bytesAdded / MB } }),
      row('9', 'backup: repository growth from the incremental round', (repoSecond - repoFirst) / MB, 'MB', { baseline: { name: 'repository after the first round', value: repoFirst / MB } }),
      row('9', 'backup: restore of the newest backup into an empty directory', restored.ms / 1000, 's', {
        baseline: cp,
        note: `${fmt(restoredUsers)} users back; one \`restic restore\` of that snapshot alone ${fmt(resticOnceS)} s (restoreAt restores it twice: once for users, once for telemetry)`,
      }),
      row('9', 'backup: drill (restore, integrity_check, checksums, restic check 1/5)', d.totalMs / 1000, 's', {
        baseline: cp,
        goals: [atLeast(d.ok ? 1 : 0, 1, 'ok')],
        note: d.ok ? `ok, restore part ${fmt(d.restoreMs / 1000)} s` : d.problems.join('; '),
      }),
      row('9', `backup: newest users backup age under writes, max (${z.steadySeconds} s, round every ${z.sqliteSeconds} s)`, usersSorted.at(-1) ?? NaN, 's', {
        baseline: { name: 'the SQLite interval', value: z.sqliteSeconds },
        goals: [atMost(usersSorted.at(-1) ?? Infinity, USERS_RPO_S, `≤ ${USERS_RPO_S} s (RPO)`)],
        note: `${steady.usersAge.length} samples, exact peak ${fmt(steady.usersPeak)} s; ${steady.rounds.length} rounds; ${writes}`,
      }),
      row('9', 'backup: newest users backup age under writes, p95', pct(usersSorted, 95), 's', {
        baseline: { name: 'the SQLite interval', value: z.sqliteSeconds },
        goals: [atMost(pct(usersSorted, 95), USERS_RPO_S, `≤ ${USERS_RPO_S} s (RPO)`)],
      }),
      row('9', `backup: newest telemetry backup age under writes, max (DuckDB round every ${z.duckdbSeconds} s)`, telSorted.at(-1) ?? NaN, 's', {
        baseline: { name: 'the DuckDB interval', value: z.duckdbSeconds },
        goals: [atMost(telSorted.at(-1) ?? Infinity, telRpo, `≤ ${telRpo} s (interval + 60 s)`)],
        note: `p95 ${fmt(pct(telSorted, 95))} s, exact peak ${fmt(steady.telemetryPeak)} s`,
      }),
    )
    const growth = (duck: boolean) => {
      const rs = steady.rounds.filter((r) => r.duckdb === duck)
      return { n: rs.length, mb: rs.reduce((a, r) => a + r.repoGrowth, 0) / Math.max(1, rs.length) / MB, s: rs.reduce((a, r) => a + r.ms, 0) / Math.max(1, rs.length) / 1000 }
    }
    const [gSql, gDuck] = [growth(false), growth(true)]
    ctx.rows.push(
      row('9', 'backup: repository growth per SQLite round under writes (mean)', gSql.mb, 'MB', {
        baseline: { name: 'SQLite snapshot file', value: sqliteSnapBytes / MB },
        note: `${gSql.n} rounds, ${fmt(gSql.s)} s each; ${fmt((gSql.mb * 3600) / z.sqliteSeconds / 1000)} GB/h before retention`,
      }),
      row('9', 'backup: repository growth per DuckDB round under writes (mean)', gDuck.mb, 'MB', {
        baseline: { name: 'both snapshot files', value: snapBytes / MB },
        note: `${gDuck.n} rounds, ${fmt(gDuck.s)} s each`,
      }),
    )
    Object.assign(details, {
      resticOnceS,
      liveBytes,
      cpS,
      first: { ms: first.ms, bytesAdded: first.bytesAdded, repoBytes: repoFirst, snapshotBytes: snapBytes },
      incremental: { ms: second.ms, bytesAdded: second.bytesAdded, repoBytes: repoSecond },
      restore: { ms: restored.ms, users: restoredUsers },
      drill: d,
      steady: { ...steady, usersAge: undefined, telemetryAge: undefined, samples: { users: steady.usersAge, telemetry: steady.telemetryAge } },
    })
  } finally {
    ctx.details.backup = details
    await service?.stop()
    await removeTmp()
  }
}
