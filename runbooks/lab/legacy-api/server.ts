// A small stand-in of the old Ocean API, run on the lab's old host (bundled with its `pg` into one
// file, on a copy of this machine's node): the routes the rehearsal's traffic uses, with the new
// service's paths, bodies and API key, writing into the old PostgreSQL. A write PostgreSQL refuses
// because the database was made read-only (the cutover's freeze) answers 503, so clients retry.
//
//   POST /api/ocean/users {username, email}           -> 201 {id, username, email} | 409
//   GET  /api/ocean/users/:id                          -> 200 | 404
//   POST /api/ocean/telemetry/ingest {sensor_id, ...}  -> 202 {ids: [id]}
//   GET  /health                                       -> 200 {ok: true, legacy: true}
import crypto from 'node:crypto'
import http from 'node:http'
import pg from 'pg'

const apiKey = process.env.OCEAN_API_KEY ?? ''
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 8 })
pool.on('error', () => undefined)

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function authorized(req: http.IncomingMessage): boolean {
  const given = Buffer.from(String(req.headers.authorization ?? '').replace(/^Bearer /, ''))
  const want = Buffer.from(apiKey)
  return apiKey !== '' && given.length === want.length && crypto.timingSafeEqual(given, want)
}

async function body(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  let text = ''
  for await (const chunk of req) text += chunk
  const v = JSON.parse(text || '{}') as unknown
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('body must be a JSON object')
  return v as Record<string, unknown>
}

/** PostgreSQL's refusals that mean "not now" (read-only freeze, shutdown, no connection). */
function unavailable(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? ''
  return code === '25006' || code.startsWith('57') || code.startsWith('08') || code === 'ECONNREFUSED'
}

async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x')
  if (req.method === 'GET' && url.pathname === '/health') return send(res, 200, { ok: true, legacy: true })
  if (!url.pathname.startsWith('/api/ocean/')) return send(res, 404, { error: 'not_found' })
  if (!authorized(req)) return send(res, 401, { error: 'unauthorized' })
  const user = /^\/api\/ocean\/users\/(\d+)$/.exec(url.pathname)
  if (req.method === 'GET' && user) {
    const r = await pool.query('SELECT id, username, email FROM users WHERE id = $1', [Number(user[1])])
    return r.rows[0] ? send(res, 200, r.rows[0]) : send(res, 404, { error: 'not_found' })
  }
  if (req.method === 'POST' && url.pathname === '/api/ocean/users') {
    const b = await body(req)
    if (typeof b.username !== 'string' || typeof b.email !== 'string') return send(res, 400, { error: 'validation', message: 'username and email are required strings' })
    try {
      const r = await pool.query('INSERT INTO users (username, email) VALUES ($1, $2) RETURNING id, username, email', [b.username, b.email])
      await pool.query('INSERT INTO billing (user_id, credits) VALUES ($1, 0)', [r.rows[0].id])
      return send(res, 201, r.rows[0])
    } catch (e) {
      if ((e as { code?: string }).code === '23505') return send(res, 409, { error: 'conflict' })
      throw e
    }
  }
  if (req.method === 'POST' && url.pathname === '/api/ocean/telemetry/ingest') {
    const b = await body(req)
    if (typeof b.sensor_id !== 'string') return send(res, 400, { error: 'validation', message: 'sensor_id is required' })
    const ts = typeof b.timestamp === 'string' ? b.timestamp : new Date().toISOString()
    const value = typeof b.value === 'number' ? b.value : null
    const data = b.data === undefined ? null : JSON.stringify(typeof b.data === 'string' ? JSON.parse(b.data) : b.data)
    const r = await pool.query('INSERT INTO telemetry (sensor_id, ts, value, data) VALUES ($1, $2, $3, $4) RETURNING id', [b.sensor_id, ts, value, data])
    return send(res, 202, { ids: [String(r.rows[0].id)] })
  }
  return send(res, 404, { error: 'not_found' })
}

const server = http.createServer((req, res) => {
  route(req, res).catch((e: unknown) => {
    if (unavailable(e)) send(res, 503, { error: 'unavailable', message: 'the database refuses writes (maintenance): retry later' })
    else if (e instanceof SyntaxError) send(res, 400, { error: 'bad_json' })
    else send(res, 500, { error: 'internal', message: (e as Error).message })
  })
})
server.listen(Number(process.env.PORT ?? 8030), process.env.HOST ?? '0.0.0.0')
// Stop at once: idle keep-alive connections (the floating proxy's) would hold close() open.
const stop = () => {
  server.close(() => void pool.end().then(() => process.exit(0)))
  server.closeAllConnections()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
