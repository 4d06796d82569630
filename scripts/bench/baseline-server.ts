// The baseline server for the benchmarks: a bare Fastify app in its own process, with what the
// Ocean routes do minus the work (no auth, no validation, no Redis, no SQLite). Routes:
//   GET|POST /hello  -> {"hello":"world"} (a POST body is parsed as JSON and dropped)
//   POST /sink       -> 202 {"accepted": n}: parses a telemetry batch body and discards it
// Prints "listening <port>" on stdout once it accepts connections.
import Fastify from 'fastify'

const port = Number(process.env.BENCH_PORT ?? 0)
const app = Fastify({ logger: false, bodyLimit: 8 * 1024 * 1024 })

app.get('/hello', async () => ({ hello: 'world' }))
app.post('/hello', async () => ({ hello: 'world' }))
app.post<{ Body: { events?: unknown[] } }>('/sink', async (req, reply) => reply.status(202).send({ accepted: req.body.events?.length ?? 0 }))

await app.listen({ host: '127.0.0.1', port })
const addr = app.server.address()
process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : port}\n`)
const stop = () => void app.close().then(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
