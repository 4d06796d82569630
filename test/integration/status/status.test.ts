// `ocean-ops status` against real things: a journal written through the Journal class, a new host
// that is a real sshd, an old host on a closed port, the Ocean service listening behind the
// Hetzner API stand-in's floating proxy. First the new host has no Docker (its shell refuses
// it, as one where Docker is not installed): releases, alerts and backups say "unavailable" and
// why. Then Docker answers there (this machine's, through SSH): no release deployed, a
// Prometheus stand-in with alerts read by `docker exec ... curl`, and the service's worker stopped
// (not ready, a backlog that waits). Status never writes to the journal.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'
import Docker from 'dockerode'
import Database from 'better-sqlite3'
import { repoRoot } from '../../../runbooks/deploy.ts'
import { HetznerStandin } from '../../../runbooks/lab/standins/hetzner-api.ts'
import { dockerOn } from '../../../runbooks/lib/host/docker-over-ssh.ts'
import { SshHost } from '../../../runbooks/lib/host/ssh-host.ts'
import { ensureNodeBase } from '../../../runbooks/lib/images/local-images.ts'
import { parseInventory, type Inventory } from '../../../runbooks/lib/inventory.ts'
import { Journal } from '../../../runbooks/lib/journal/journal.ts'
import { firingAlerts, prometheusContainer } from '../../../runbooks/lib/monitoring/prometheus-alerts.ts'
import type { StatusModel } from '../../../runbooks/lib/status/status-model.ts'
import { statusJson, statusScreen } from '../../../runbooks/lib/status/status-report.ts'
import { gatherStatus } from '../../../runbooks/status.ts'
import { freePort } from '../../../scripts/lib/loopback-servers.ts'
import { API_KEY, startOcean, type Harness } from '../../helpers/ocean-harness.ts'
import { startSshd, type TestSshd } from '../../helpers/sshd.ts'

const run = promisify(execFile)
const stack = `st${crypto.randomBytes(3).toString('hex')}`
const hcloudToken = `hc-${crypto.randomBytes(16).toString('hex')}`
process.env.TEST_STATUS_OCEAN_KEY = API_KEY
process.env.TEST_STATUS_HCLOUD = hcloudToken
process.env.TEST_STATUS_BACKUP_PASSWORD = crypto.randomBytes(16).toString('hex')

/** The journal's rows, to prove status leaves them as they were. */
function journalRows(file: string): string {
  const db = new Database(file, { readonly: true })
  try {
    return JSON.stringify(['runs', 'steps', 'locks'].map((t) => db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()))
  } finally {
    db.close()
  }
}

const byLabel = <T extends { label: string }>(items: T[], label: string): T => {
  const i = items.find((x) => x.label === label)
  assert.ok(i, `an item ${label} in ${JSON.stringify(items.map((x) => x.label))}`)
  return i
}

describe('ocean-ops status', { timeout: 180_000 }, () => {
  let sshd: TestSshd
  let ocean: Harness
  let standin: HetznerStandin
  let inv: Inventory
  let invFile: string
  let journalPath: string
  let clientKey: string
  const runIds: Record<string, string> = {}

  before(async () => {
    sshd = await startSshd()
    clientKey = fs.readFileSync(path.join(sshd.dir, 'authorized_keys'), 'utf8').trim()
    // The new host's shell has no Docker: every command that names it fails as bash would.
    fs.writeFileSync(path.join(sshd.dir, 'authorized_keys'), `command="case \\"$SSH_ORIGINAL_COMMAND\\" in *docker*) echo 'bash: line 1: docker: command not found' >&2; exit 127;; *) exec /bin/sh -c \\"$SSH_ORIGINAL_COMMAND\\";; esac" ${clientKey}\n`, { mode: 0o600 })

    ocean = await startOcean()
    await ocean.app.listen({ port: 0, host: '127.0.0.1' })
    const oceanPort = (ocean.app.server.address() as { port: number }).port
    const closedPort = await freePort()
    standin = new HetznerStandin({ token: hcloudToken, floatingIpId: 77, servers: { 11: { host: '127.0.0.1', port: closedPort }, 22: { host: '127.0.0.1', port: oceanPort } }, initialServer: 22 })
    const s = await standin.start()

    journalPath = path.join(sshd.dir, 'journal.db')
    const j = Journal.open(journalPath)
    const at = (runId: string, started: string, ended: string | null) => j.db.prepare('UPDATE runs SET started_at = ?, ended_at = ? WHERE run_id = ?').run(started, ended, runId)
    runIds.deploy = j.startRun('deploy', { image: 'ocean:abc' })
    j.endRun(runIds.deploy, 'ok')
    at(runIds.deploy, '2026-12-05T10:00:00.000Z', '2026-12-05T10:01:30.000Z')
    runIds.cutover = j.startRun('cutover', {})
    j.endRun(runIds.cutover, 'failed', 'OPS_E_VERIFY: post-cutover verification failed')
    runIds.migrate = j.startRun('migrate-data', {}) // never ended, no lock: interrupted
    j.acquireLock('backup-now', 'test (ocean-ops backup-now)', 60_000)
    runIds.backupNow = j.startRun('backup-now', {}) // running, its lock held by this live process
    runIds.verify = j.startRun('verify', {})
    j.endRun(runIds.verify, 'ok')
    at(runIds.verify, '2026-12-05T09:00:00.000Z', '2026-12-05T09:00:20.000Z')
    j.endRun(j.startRun('verify', {}), 'planned') // a later plan is no run
    j.close()

    const pinned = { user: sshd.user, identityFile: sshd.identityFile, knownHostsFile: sshd.knownHostsFile }
    inv = parseInventory({
      schemaVersion: 1,
      newHost: { address: '127.0.0.1', port: sshd.port, ...pinned, serverId: 22 },
      oldHost: { address: '127.0.0.1', port: closedPort, ...pinned, serverId: 11 },
      floatingIp: { id: 77, address: '127.0.0.1', url: `http://127.0.0.1:${s.floatingPort}` },
      oceanPort,
      ocean: { stack, apiKey: 'env:TEST_STATUS_OCEAN_KEY' },
      hetzner: { token: 'env:TEST_STATUS_HCLOUD', endpoint: s.url },
      backup: { repository: 'sftp:backup@127.0.0.1:/ocean', password: 'env:TEST_STATUS_BACKUP_PASSWORD', sftp: { identityFile: sshd.identityFile, knownHostsFile: sshd.knownHostsFile } },
    })
    invFile = path.join(sshd.dir, 'inventory.json')
    fs.writeFileSync(invFile, JSON.stringify(inv))

    // Telemetry accepted and stored: the backlog is empty again.
    const events = Array.from({ length: 25 }, (_, i) => ({ sensor_id: 'status-test', timestamp: new Date(Date.now() - i * 1000).toISOString(), value: i }))
    assert.equal((await ocean.api('POST', '/api/ocean/telemetry/batch', { events })).statusCode, 202)
    await ocean.waitForRows(25)
  })

  after(async () => {
    const docker = new Docker()
    for (const c of await docker.listContainers({ all: true, filters: { label: [`ocean-ops.stack=${stack}`] } })) await docker.getContainer(c.Id).remove({ force: true })
    await standin?.stop()
    await ocean?.close()
    await sshd?.stop()
  })

  describe('a new host without Docker, the old host down', () => {
    let m: StatusModel
    let ms = 0
    let journalBefore = ''

    before(async () => {
      journalBefore = journalRows(journalPath)
      const t0 = Date.now()
      m = await gatherStatus(inv, { journalPath, timeoutMs: 5000 })
      ms = Date.now() - t0
    })

    test('answers within the bound although a host is down', () => {
      assert.ok(ms < 15_000, `${ms} ms`)
      assert.equal(m.stack, stack)
    })

    test('the floating IP is on the new host, as the Hetzner API (stand-in) says', () => {
      assert.equal(m.floatingIp.length, 1)
      assert.equal(m.floatingIp[0]!.level, 'ok')
      assert.equal(m.floatingIp[0]!.pointsTo, 'new')
      assert.equal(m.floatingIp[0]!.serverId, 22)
      assert.ok(standin.calls.includes('GET /v1/floating_ips/77'))
    })

    test('the new host answers over SSH with its pinned key; the old one is reported unreachable', () => {
      const [n, o] = m.hosts
      assert.equal(n!.role, 'new')
      assert.equal(n!.level, 'ok', n!.reason)
      assert.ok(typeof n!.rttMs === 'number' && n!.rttMs >= 0)
      assert.equal(o!.role, 'old')
      assert.equal(o!.level, 'fail')
      assert.match(o!.reason, /^unreachable: .*ECONNREFUSED/)
      assert.ok(o!.todo)
    })

    test('releases, alerts and backups: unavailable, and why', () => {
      const current = byLabel(m.releases, `${stack}-api`)
      assert.equal(current.level, 'fail')
      assert.match(current.reason, /^unavailable: Docker on the new host does not answer: bash: line 1: docker: command not found$/)
      assert.equal(m.alerts.length, 1)
      assert.equal(m.alerts[0]!.monitoring, 'unavailable')
      assert.match(m.alerts[0]!.reason, /docker: command not found/)
      assert.equal(m.backup.length, 1)
      assert.equal(m.backup[0]!.level, 'fail')
      assert.match(m.backup[0]!.reason, /docker: command not found/)
    })

    test('the last run of each runbook, plans left out', () => {
      const level = (rb: string) => byLabel(m.journal, rb)
      assert.deepEqual(m.journal.map((r) => r.label).sort(), ['backup-now', 'cutover', 'deploy', 'migrate-data', 'verify'])
      assert.equal(level('deploy').level, 'ok')
      assert.equal(level('deploy').runId, runIds.deploy)
      assert.match(level('deploy').reason, /^ok, ended 2026-12-05 10:01:30Z .*\(90\.0 s\)/)
      assert.equal(level('verify').runId, runIds.verify, 'the plan after it is not its last run')
      assert.equal(level('cutover').level, 'warn')
      assert.match(level('cutover').reason, /FAILED .*OPS_E_VERIFY: post-cutover verification failed/)
      assert.match(level('migrate-data').reason, /^interrupted/)
      assert.match(level('backup-now').reason, /^running now/)
    })

    test('the service through the floating IP: ready, the backlog empty', () => {
      const ready = byLabel(m.service, '/ready')
      assert.equal(ready.level, 'ok', ready.reason)
      assert.equal(ready.httpStatus, 200)
      assert.equal(ready.url, inv.floatingIp!.url)
      const backlog = byLabel(m.service, 'buffer backlog')
      assert.equal(backlog.level, 'ok', backlog.reason)
      assert.deepEqual(backlog.backlog, { events: 0, pendingEntries: 0, lagEntries: 0, deadLetterEntries: 0, oldestUnprocessedAt: null })
    })

    test('verdict fail, the problems named; no secret in the JSON; nothing written to the journal', () => {
      assert.equal(m.verdict, 'fail')
      assert.ok(m.problems.some((p) => p.startsWith(`old ${sshd.user}@127.0.0.1:`)), m.problems.join('; '))
      const json = statusJson(m)
      for (const secret of [API_KEY, hcloudToken, process.env.TEST_STATUS_BACKUP_PASSWORD!]) assert.ok(!json.includes(secret))
      assert.equal(journalRows(journalPath), journalBefore)
    })

    test('the command: the screen, exit 1 with OPS_E_STATUS; --json is the model', async (t) => {
      const cli = (args: string[]) => run(process.execPath, [path.join(repoRoot, 'runbooks/bin/ocean-ops.js'), 'status', '-i', invFile, '--journal', journalPath, ...args], { cwd: sshd.dir }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      )
      const screen = await cli([])
      assert.equal(screen.code, 1, screen.stderr)
      assert.match(screen.stderr, /^ocean-ops: OPS_E_STATUS: \d+ problem\(s\): .*unreachable/m)
      for (const title of ['floating IP', 'hosts', 'releases', `last runs (${journalPath})`, `service (${inv.floatingIp!.url})`, 'alerts', 'backup']) assert.ok(screen.stdout.split('\n').includes(title), `section ${title}`)
      assert.match(screen.stdout, /^FAIL: \d+ problem\(s\)/m)
      for (const line of screen.stdout.trimEnd().split('\n')) t.diagnostic(line)
      const json = await cli(['--json'])
      assert.equal(json.code, 1)
      const parsed = JSON.parse(json.stdout) as StatusModel
      assert.equal(parsed.verdict, 'fail')
      assert.equal(byLabel(parsed.service, '/ready').level, 'ok')
      assert.ok(!json.stdout.includes(API_KEY) && !json.stdout.includes(hcloudToken))
      assert.equal(journalRows(journalPath), journalBefore, 'the command wrote nothing to the journal either')
      // The screen of the model gathered in-process has the same sections, in the same order.
      const titles = (s: string) => s.split('\n').filter((l) => /^[a-z]/.test(l) && !l.startsWith('ocean-ops'))
      assert.deepEqual(titles(statusScreen(m)), titles(screen.stdout).map((l) => l.replace(/ \(.*\)$/, '')))
    })
  })

  describe('Docker answers on the new host; Prometheus has alerts; the worker is stopped', () => {
    let m: StatusModel

    before(async () => {
      fs.writeFileSync(path.join(sshd.dir, 'authorized_keys'), `${clientKey}\n`, { mode: 0o600 })
      const host = await SshHost.connect({ host: '127.0.0.1', port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, knownHostsFile: sshd.knownHostsFile })
      try {
        const docker = await dockerOn(host)
        assert.deepEqual(await firingAlerts(docker, stack), { deployed: false, alerts: [] }, 'no Prometheus container: monitoring not deployed, not an error')
      } finally {
        await host.close()
      }
      await startPrometheusStandin(stack)
      // The worker stops (and DuckDB closes): what is accepted now waits in Redis.
      await ocean.engine.close()
      const events = Array.from({ length: 7 }, (_, i) => ({ sensor_id: 'status-test-2', timestamp: new Date().toISOString(), value: i }))
      assert.equal((await ocean.api('POST', '/api/ocean/telemetry/batch', { events })).statusCode, 202)
      // Reading the alerts goes SSH -> Docker -> exec in the container: 6.5 s on a 2-core CI machine,
      // past a 5 s bound. The bound itself is the first describe's test; here each item gets 30 s.
      m = await gatherStatus(inv, { journalPath, timeoutMs: 30_000 })
    })

    test('releases: nothing deployed in this stack; no previous one', () => {
      const current = byLabel(m.releases, `${stack}-api`)
      assert.equal(current.level, 'fail')
      assert.match(current.reason, /nothing is deployed/)
      assert.equal(byLabel(m.releases, `${stack}-api-previous`).level, 'skip')
    })

    test('alerts read from Prometheus in its container: firing fails, pending warns', () => {
      assert.deepEqual(m.alerts.map((a) => [a.label, a.level, a.alert?.severity]), [['OceanApiDown', 'fail', 'critical'], ['OceanBacklogGrowing', 'warn', 'warning']], m.alerts.map((a) => a.reason).join('; '))
      assert.equal(m.alerts[0]!.alert!.summary, 'The Ocean API does not answer scrapes')
      assert.equal(m.alerts[0]!.alert!.activeAt, '2026-12-06T09:55:00Z')
    })

    test('the service is not ready (DuckDB closed) and the backlog holds what was accepted since', () => {
      const ready = byLabel(m.service, '/ready')
      assert.equal(ready.level, 'fail')
      assert.equal(ready.httpStatus, 503)
      assert.match(ready.reason, /^not ready: duckdb/)
      const backlog = byLabel(m.service, 'buffer backlog')
      assert.equal(backlog.backlog?.events, 7, backlog.reason)
      assert.ok(backlog.backlog?.oldestUnprocessedAt, 'the oldest waiting event is dated')
    })

    test('backups: the backup tool needs a deployed release', () => {
      assert.equal(m.backup[0]!.level, 'fail')
      assert.match(m.backup[0]!.reason, new RegExp(`no ${stack}-api container`))
    })
  })
})

/**
 * A container named as the stack's Prometheus: Prometheus's /api/v1/alerts answer (recorded) on its
 * loopback port 9090, and a `curl` on its PATH (this image has none: a tiny one in Node that
 * fails like `curl -f` does).
 */
async function startPrometheusStandin(stack: string): Promise<void> {
  const docker = new Docker()
  const image = await ensureNodeBase(() => {})
  const body = JSON.stringify({
    status: 'success',
    data: {
      alerts: [
        { labels: { alertname: 'OceanBacklogGrowing', severity: 'warning' }, annotations: { summary: 'The buffer backlog grows' }, state: 'pending', activeAt: '2026-12-06T09:58:30Z', value: '1' },
        { labels: { alertname: 'OceanApiDown', severity: 'critical' }, annotations: { summary: 'The Ocean API does not answer scrapes' }, state: 'firing', activeAt: '2026-12-06T09:55:00Z', value: '0' },
      ],
    },
  })
  const curl = "#!/usr/local/bin/node\nconst url = process.argv.at(-1); fetch(url).then(async (r) => { if (!r.ok) { process.stderr.write(`curl: (22) The requested URL returned error: ${r.status}\\n`); process.exit(22) } process.stdout.write(await r.text()) }, (e) => { process.stderr.write(`curl: (7) ${e.message}\\n`); process.exit(7) })\n"
  const server = `require('fs').mkdirSync('/tmp/bin',{recursive:true});require('fs').writeFileSync('/tmp/bin/curl',${JSON.stringify(curl)},{mode:0o755});require('http').createServer((q,s)=>{if(q.url!=='/api/v1/alerts'){s.statusCode=404;return s.end()}s.setHeader('content-type','application/json');s.end(${JSON.stringify(body)})}).listen(9090,'127.0.0.1')`
  const c = await docker.createContainer({
    name: prometheusContainer(stack),
    Image: image,
    Cmd: ['node', '-e', server],
    Env: ['PATH=/tmp/bin:/usr/local/bin:/usr/bin:/bin'],
    Labels: { 'ocean-ops.stack': stack },
  })
  await c.start()
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    const e = await c.exec({ Cmd: ['curl', 'http://127.0.0.1:9090/api/v1/alerts'], AttachStdout: true, AttachStderr: true })
    const s = await e.start({ hijack: true, stdin: false })
    s.resume() // a paused stream never ends
    await new Promise((r) => s.on('end', r).on('close', r))
    if ((await e.inspect()).ExitCode === 0) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`the Prometheus stand-in did not answer: ${await c.logs({ stdout: true, stderr: true }).then(String)}`)
}
