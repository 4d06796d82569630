// Benchmark 3: user lookup (GET /api/ocean/users/:id) and session validation
// (POST /api/ocean/sessions/validate) at a fixed 10k req/s for ~10 s, against the hello-world
// process at the same rate. Ids and tokens rotate over 1000 users with one session each.
//
// autocannon's overallRate caps each connection per one-second window: a connection sends
// back to back until it has made its share, then waits for the next second. So each second starts
// with a burst at full concurrency; latencies are those of a closed loop at CONNECTIONS during it.
import type { Request } from 'autocannon'
import { load, type LoadResult } from './http-load.ts'
import { AUTH, startBaselineServer, startOcean } from './processes.ts'
import { atLeast, atMost, fmt, row, type BenchContext } from './report.ts'

const RATE = 10_000
const CONNECTIONS = 10
const USERS = 1000

export async function lookupsBench(ctx: BenchContext): Promise<void> {
  const durationS = ctx.quick ? 3 : 10
  const warmS = ctx.quick ? 1 : 2
  const at = async (url: string, extra: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string; setupRequest?: (r: Request) => Request }) => {
    const opts = { url, connections: CONNECTIONS, overallRate: RATE, ...extra }
    await load({ ...opts, durationS: warmS })
    const r = await load({ ...opts, durationS })
    ctx.log(`  ${fmt(r.rps)} req/s, p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms, max ${fmt(r.max)} ms, non-2xx ${r.non2xx}, errors ${r.errors}`)
    return r
  }

  ctx.log(`3: hello-world baseline at ${fmt(RATE)} req/s (GET and POST /hello)`)
  const hello = await startBaselineServer()
  let baseGet: LoadResult
  let basePost: LoadResult
  try {
    baseGet = await at(`${hello.base}/hello`, {})
    basePost = await at(`${hello.base}/hello`, { method: 'POST', body: JSON.stringify({ token: 'x'.repeat(43) }) })
  } finally {
    await hello.stop()
  }

  const ocean = await startOcean(0)
  try {
    ctx.log(`3: creating ${USERS} users with one session each`)
    const ids: number[] = []
    const tokens: string[] = []
    for (let i = 0; i < USERS; i++) {
      const user = await ocean.post<{ id: number }>('/users', { username: `bench-user-${i}`, email: `bench-${i}@example.com` })
      const session = await ocean.post<{ token: string }>('/sessions/create', { user_id: user.id })
      ids.push(user.id)
      tokens.push(session.token)
    }
    let n = 0
    ctx.log(`3: GET /api/ocean/users/:id at ${fmt(RATE)} req/s`)
    const users = await at(`${ocean.base}/api/ocean/users/1`, {
      headers: AUTH,
      setupRequest: (req) => ({ ...req, path: `/api/ocean/users/${ids[n++ % USERS]}` }),
    })
    ctx.log(`3: POST /api/ocean/sessions/validate at ${fmt(RATE)} req/s`)
    const sessions = await at(`${ocean.base}/api/ocean/sessions/validate`, {
      method: 'POST',
      headers: AUTH,
      body: JSON.stringify({ token: tokens[0] }),
      setupRequest: (req) => ({ ...req, body: JSON.stringify({ token: tokens[n++ % USERS] }) }),
    })
    // Every token is valid: a 200 with valid=false would be a wrong answer, not a fast one.
    const check = await ocean.post<{ valid: boolean }>('/sessions/validate', { token: tokens[USERS - 1] })
    if (!check.valid) throw new Error('session validate answered valid=false for a live session')
    ctx.details.lookups = { rate: RATE, connections: CONNECTIONS, users: USERS, baseGet, basePost, users_get: users, sessions_validate: sessions }
    for (const [what, r, b, bname] of [
      ['user lookup GET /users/:id', users, baseGet, 'hello-world GET'],
      ['session validate POST /sessions/validate', sessions, basePost, 'hello-world POST'],
    ] as const) {
      const errors = r.non2xx + r.errors + r.timeouts
      ctx.rows.push(
        row('3', `${what} p99 at ${fmt(RATE)} req/s`, r.p99, 'ms', {
          baseline: { name: bname, value: b.p99 },
          goals: [atMost(r.p99, 2, '≤ 2 ms'), atLeast(r.rps, 0.95 * RATE, 'rate held'), atMost(errors, 0, '0 errors')],
          note: `p50 ${fmt(r.p50)} ms (baseline ${fmt(b.p50)}), achieved ${fmt(r.rps)} req/s, ${CONNECTIONS} connections${errors ? `, ${errors} errors` : ''}`,
        }),
      )
    }
  } finally {
    await ocean.stop()
  }
}
