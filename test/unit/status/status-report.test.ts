// `ocean-ops status`'s pure parts: each item's verdict from what was found, the overall verdict,
// the screen of a model with failures, Prometheus's /api/v1/alerts read as alerts, and no secret
// in the JSON.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { within } from '../../../runbooks/lib/status/deadline.ts'
import { parseAlerts } from '../../../runbooks/lib/monitoring/prometheus-alerts.ts'
import * as M from '../../../runbooks/lib/status/status-model.ts'
import { redactSecrets, shownUrl, statusJson, statusScreen } from '../../../runbooks/lib/status/status-report.ts'

const now = new Date('2026-12-06T10:00:00.000Z')
const secondsAgo = (s: number) => new Date(now.getTime() - s * 1000).toISOString()
const empty = (): M.Sections => ({ floatingIp: [], hosts: [], releases: [], journal: [], service: [], alerts: [], backup: [] })

// Prometheus 2.45's answer, as `curl -fsS http://127.0.0.1:9090/api/v1/alerts` prints it.
const PROMETHEUS_ALERTS = JSON.stringify({
  status: 'success',
  data: {
    alerts: [
      { labels: { alertname: 'OceanBacklogGrowing', instance: 'ocean-api:8030', job: 'ocean', severity: 'warning' }, annotations: { summary: 'The buffer backlog grows for 10 minutes' }, state: 'pending', activeAt: '2026-12-06T09:58:30.123456789Z', value: '1.2e+03' },
      { labels: { alertname: 'OceanApiDown', instance: 'ocean-api:8030', job: 'ocean', severity: 'critical' }, annotations: { summary: 'The Ocean API does not answer scrapes', description: 'up == 0 for 1m' }, state: 'firing', activeAt: '2026-12-06T09:55:00Z', value: '0e+00' },
      { labels: { alertname: 'DiskFilling', instance: 'node-exporter:9100', job: 'node', severity: 'warning' }, annotations: {}, state: 'firing', activeAt: '2026-12-06T09:40:00Z', value: '9.1e-01', keepFiringSince: '2026-12-06T09:59:00Z' },
      { labels: { alertname: 'Watchdog' }, annotations: {}, state: 'inactive', activeAt: '0001-01-01T00:00:00Z', value: '0' },
    ],
  },
})

describe('Prometheus alerts', () => {
  it('reads /api/v1/alerts: firing first, the most severe first, pending after, inactive left out', () => {
    const alerts = parseAlerts(PROMETHEUS_ALERTS)
    assert.deepEqual(alerts.map((a) => [a.name, a.state, a.severity]), [
      ['OceanApiDown', 'firing', 'critical'],
      ['DiskFilling', 'firing', 'warning'],
      ['OceanBacklogGrowing', 'pending', 'warning'],
    ])
    assert.equal(alerts[0]!.summary, 'The Ocean API does not answer scrapes')
    assert.equal(alerts[0]!.activeAt, '2026-12-06T09:55:00Z')
    assert.equal(alerts[1]!.summary, undefined, 'no summary, no key')
    assert.deepEqual(parseAlerts({ status: 'success', data: { alerts: [] } }), [])
  })
  it('an error answer or something not JSON is an error that says what came', () => {
    assert.throws(() => parseAlerts({ status: 'error', errorType: 'unavailable', error: 'rule manager not ready' }), /status error: rule manager not ready/)
    assert.throws(() => parseAlerts('<html>502 Bad Gateway</html>'), /not JSON: <html>502/)
    assert.throws(() => parseAlerts({ status: 'success', data: {} }), /without data\.alerts/)
  })
  it('as items: firing fails, pending warns, no monitoring is a warning that says so, none is ok', () => {
    const items = M.alertItems({ deployed: true, alerts: parseAlerts(PROMETHEUS_ALERTS) }, now)
    assert.deepEqual(items.map((i) => i.level), ['fail', 'fail', 'warn'])
    assert.match(items[0]!.reason, /^firing \(critical\) since 2026-12-06 09:55:00Z \(5 min ago\): The Ocean API does not answer scrapes$/)
    const off = M.alertItems({ deployed: false, alerts: [] }, now)
    assert.equal(off.length, 1)
    assert.equal(off[0]!.level, 'warn')
    assert.equal(off[0]!.monitoring, 'not deployed')
    assert.match(off[0]!.reason, /monitoring not deployed/)
    assert.equal(M.alertItems({ deployed: true, alerts: [] }, now)[0]!.level, 'ok')
    assert.equal(M.alertsUnavailable(new Error('docker: not found'))[0]!.level, 'fail')
  })
})

describe('item verdicts', () => {
  const fip = { id: 77, address: '203.0.113.4' }
  it('floating IP: new ok, old warns, nowhere or elsewhere fails, no ids to compare warns', () => {
    const ids = { newServerId: 2, oldServerId: 1 }
    assert.deepEqual([2, 1, null, 9].map((s) => [M.floatingIpItem(fip, s, ids).level, M.floatingIpItem(fip, s, ids).pointsTo]), [['ok', 'new'], ['warn', 'old'], ['fail', 'unassigned'], ['fail', 'other']])
    assert.equal(M.floatingIpItem(fip, 9, {}).level, 'warn')
    assert.match(M.floatingIpFailed(fip, new Error('401 unauthorized')).reason, /^Hetzner API: 401/)
  })
  it('hosts: reachable with round trip; unreachable keeps the cause and moves the advice to what to do', () => {
    assert.equal(M.hostReached('new', 'root@10.0.0.2:22', 41.7, 1.26).reason, 'reachable, host key pinned; round trip 1.3 ms (connect 42 ms)')
    const e = Object.assign(new Error('cannot reach root@10.0.0.1:22: connect ECONNREFUSED 10.0.0.1:22. Check the address, the firewall\'s adminCidrs and that sshd runs.'), { code: 'OPS_E_SSH_CONNECT' })
    const h = M.hostUnreachable('old', 'root@10.0.0.1:22', e)
    assert.equal(h.level, 'fail')
    assert.equal(h.reason, 'unreachable: connect ECONNREFUSED 10.0.0.1:22')
    assert.match(h.todo!, /firewall/)
    assert.match(M.hostUnreachable('new', 'x@y:22', Object.assign(new Error('changed'), { code: 'OPS_E_HOST_KEY' })).todo!, /not the pinned one/)
  })
  it('releases: the current one running and healthy is ok; missing, exited or unhealthy fails; no previous is no fault', () => {
    const c = (state: Partial<M.ContainerFacts['State']>): M.ContainerFacts => ({ Created: secondsAgo(3600), Image: 'sha256:0123456789abcdef0123', Config: { Image: 'ocean:abc' }, State: { Status: 'running', Running: true, StartedAt: secondsAgo(3500), ...state } })
    const ok = M.releaseItem('current', 'ocean-api', c({ Health: { Status: 'healthy' } }), now)
    assert.equal(ok.level, 'ok')
    assert.equal(ok.imageId, '0123456789ab')
    assert.match(ok.reason, /^ocean:abc, created 2026-12-06 09:00:00Z \(60 min ago\), running since .* \(healthy\)$/)
    assert.equal(M.releaseItem('current', 'ocean-api', c({ Health: { Status: 'unhealthy' } }), now).level, 'fail')
    assert.equal(M.releaseItem('current', 'ocean-api', c({ Health: { Status: 'starting' } }), now).level, 'warn')
    const exited = M.releaseItem('current', 'ocean-api', c({ Status: 'exited', Running: false, ExitCode: 137 }), now)
    assert.equal(exited.level, 'fail')
    assert.match(exited.reason, /exited \(exit 137\)/)
    assert.equal(M.releaseItem('current', 'ocean-api', undefined, now).level, 'fail')
    assert.equal(M.releaseItem('previous', 'ocean-api-previous', undefined, now).level, 'skip')
    assert.equal(M.releaseItem('previous', 'ocean-api-previous', c({ Status: 'exited', Running: false }), now).level, 'ok')
    assert.deepEqual(M.releasesUnavailable({ current: 'a', previous: 'b' }, new Error('no docker')).map((i) => i.level), ['fail', 'skip'])
  })
  it('journal: ok; failed and interrupted warn with what to do; running under its lock is running', () => {
    const run = (result: string, o: Partial<M.RunFacts> = {}): M.RunFacts => ({ run_id: `deploy-${result}`, runbook: 'deploy', started_at: secondsAgo(600), ended_at: secondsAgo(540), result, error: null, ...o })
    assert.equal(M.runItem(run('ok'), now).reason, 'ok, ended 2026-12-06 09:51:00Z (9 min ago) (60.0 s); run deploy-ok')
    const failed = M.runItem(run('failed', { error: 'OPS_E_DEPLOY: health check failed' }), now)
    assert.equal(failed.level, 'warn')
    assert.match(failed.reason, /FAILED .*OPS_E_DEPLOY: health check failed/)
    assert.match(failed.todo!, /--resume/)
    const interrupted = M.runItem(run('running', { ended_at: null }), now)
    assert.equal(interrupted.level, 'warn')
    assert.match(interrupted.reason, /^interrupted/)
    const running = M.runItem(run('running', { ended_at: null, lockHeld: true }), now)
    assert.equal(running.level, 'ok')
    assert.match(running.reason, /^running now/)
  })
  it('service: /ready 200 ok, 503 names the failing check; the backlog judged by the age of its oldest event', () => {
    const ready = { status: 'ready', checks: { redis: { ok: true, ms: 0.4 }, sqlite: { ok: true, ms: 0.1 }, duckdb: { ok: true, ms: 1.2 } } }
    assert.equal(M.readyItem('u', 200, ready).reason, 'ready (redis 0.4 ms, sqlite 0.1 ms, duckdb 1.2 ms)')
    const down = M.readyItem('u', 503, { status: 'not ready', checks: { ...ready.checks, duckdb: { ok: false, ms: 2000, error: 'no answer within 2000 ms' } } })
    assert.equal(down.level, 'fail')
    assert.equal(down.reason, 'not ready: duckdb: no answer within 2000 ms')
    const backlog = (events: number, oldest: number | null, extra: Record<string, unknown> = {}) =>
      M.backlogItem('u', 200, { version: '1.4.0', buffer: { events, pending_entries: 0, lag_entries: events ? 1 : 0, dead_letter_entries: 0, oldest_unprocessed_at: oldest === null ? null : secondsAgo(oldest), ...extra } }, now)
    assert.equal(backlog(0, null).level, 'ok')
    assert.match(backlog(0, null).reason, /^empty.*\(service 1\.4\.0\)$/)
    assert.equal(backlog(40, 5).level, 'ok')
    assert.equal(backlog(40, 5).backlog!.events, 40)
    assert.equal(backlog(40, M.BACKLOG_WARN_SECONDS + 30).level, 'warn')
    assert.equal(backlog(40, M.BACKLOG_FAIL_SECONDS + 30).level, 'fail')
    assert.equal(backlog(0, null, { dead_letter_entries: 3 }).level, 'warn')
    assert.equal(M.backlogItem('u', 200, { buffer: { error: 'Connection is closed.' } }, now).level, 'fail')
    assert.equal(M.backlogItem('u', 401, { error: 'unauthorized' }, now).level, 'fail')
    assert.equal(M.backlogItem('u', 404, null, now).level, 'warn')
  })
  it('backup: within the RPO ok, stale or none fails, never drilled warns, a failed drill fails', () => {
    const fresh = { time: secondsAgo(20), ageSeconds: 20, rpoSeconds: 60, ok: true }
    const stale = { time: secondsAgo(4000), ageSeconds: 4000, rpoSeconds: 960, ok: false }
    const items = M.backupItems({ repository: 'sftp:u@h:/r', newest: { sqlite: fresh, duckdb: stale }, agent: { lastError: { at: secondsAgo(30), message: 'ssh: connect to host h port 23: Connection refused' } }, lastDrill: null }, now)
    assert.deepEqual(items.map((i) => [i.what, i.level]), [['users', 'ok'], ['telemetry', 'fail'], ['drill', 'warn']])
    assert.match(items[1]!.reason, /^STALE: newest 67 min ago \(RPO 960 s\); the agent's last error .*Connection refused$/)
    const none = M.backupItems({ repository: 'r', newest: { sqlite: null, duckdb: null }, agent: null, lastDrill: { at: secondsAgo(90), ok: false, problems: ['checksum mismatch in users'] } }, now)
    assert.deepEqual(none.map((i) => i.level), ['fail', 'fail', 'fail'])
    assert.match(none[2]!.reason, /checksum mismatch in users/)
  })
})

describe('the overall verdict and the screen', () => {
  it('fail when any item failed, warn when any warned, else ok; skipped items count for nothing', () => {
    const s = empty()
    s.backup = [M.notConfigured<M.BackupItem>({ what: 'backup', label: 'backups', reason: 'not configured' })]
    assert.equal(M.verdictOf(s), 'ok')
    s.alerts = M.alertItems({ deployed: false, alerts: [] }, now)
    assert.equal(M.verdictOf(s), 'warn')
    s.hosts = [M.hostUnreachable('old', 'root@10.0.0.1:22', new Error('timed out'))]
    assert.equal(M.verdictOf(s), 'fail')
    assert.deepEqual(M.finish(now, 'ocean', 12.4, s).problems, ['old root@10.0.0.1:22: unreachable: timed out'])
  })
  it('a model with failures: a block per section, FAIL with what to do under it, the verdict last', () => {
    const s = empty()
    s.floatingIp = [M.floatingIpItem({ id: 77, address: '203.0.113.4' }, 2, { newServerId: 2, oldServerId: 1 })]
    s.hosts = [M.hostReached('new', 'root@10.0.0.2:22', 40, 1.2), M.hostUnreachable('old', 'root@10.0.0.1:22', new Error('no answer within 5 s'))]
    s.releases = M.releasesUnavailable({ current: 'ocean-api', previous: 'ocean-api-previous' }, new Error('Docker on the new host does not answer: docker: not found'))
    s.journal = [M.noRuns('/j.db', 'no journal')]
    s.service = [M.readyItem('http://203.0.113.4:8030', 200, { checks: {} })]
    s.alerts = M.alertItems({ deployed: true, alerts: parseAlerts(PROMETHEUS_ALERTS) }, now)
    const m = M.finish(now, 'ocean', 1234, s)
    const screen = statusScreen(m, { journalPath: '/j.db', url: 'http://203.0.113.4:8030' })
    const lines = screen.split('\n')
    assert.equal(lines[0], 'ocean-ops status: stack ocean, 2026-12-06 10:00:00Z (1.2 s)')
    for (const title of ['floating IP', 'hosts', 'releases', 'last runs (/j.db)', 'service (http://203.0.113.4:8030)', 'alerts']) assert.ok(lines.includes(title), `section ${title}`)
    assert.ok(!lines.includes('backup'), 'a section with no item is left out')
    const old = lines.findIndex((l) => l.includes('old root@10.0.0.1:22'))
    assert.match(lines[old]!, /^ {2}FAIL {2}old root@10\.0\.0\.1:22 +unreachable: no answer within 5 s$/)
    assert.match(lines[old + 1]!, /^ +-> check the address/)
    assert.match(screen, /FAIL {2}ocean-api +unavailable: Docker on the new host does not answer: docker: not found/)
    assert.match(screen, /WARN {2}OceanBacklogGrowing +pending \(warning\)/)
    assert.match(screen, / ok {4}203\.0\.113\.4 +on the new host \(server 2\)$/m)
    assert.equal(lines.at(-1), 'FAIL: 4 problem(s), 1 warning(s); see FAIL above')
  })
  it('everything fine: the last line says so', () => {
    const s = empty()
    s.hosts = [M.hostReached('new', 'root@10.0.0.2:22', 40, 1.2)]
    assert.equal(statusScreen(M.finish(now, 'ocean', 10, s)).split('\n').at(-1), 'OK: everything checked is fine')
  })
})

describe('secrets', () => {
  const apiKey = 'k3y-0123456789abcdef-secret'
  const token = 'hcloud-token-abcdefghijklmnop'
  it('never appear in the JSON, even where an error quoted one', () => {
    const s = empty()
    s.service = [M.serviceFailed('backlog', 'http://h:8030', new Error(`request with "authorization: Bearer ${apiKey}" refused`))]
    s.floatingIp = [M.floatingIpFailed({ id: 1, address: 'a' }, new Error(`GET https://api.example/v1?token=${token}: 500`))]
    const before = statusJson(M.finish(now, 'ocean', 1, s))
    assert.ok(before.includes(apiKey), 'the test model does carry the secrets before redaction')
    const json = statusJson(redactSecrets(M.finish(now, 'ocean', 1, s), [apiKey, token, undefined]))
    assert.ok(!json.includes(apiKey) && !json.includes(token))
    assert.match(json, /Bearer \*\*\*/)
    assert.equal((JSON.parse(json) as M.StatusModel).verdict, 'fail', 'the rest of the model is kept')
  })
  it('a URL is shown without the user and password in it', () => {
    assert.equal(shownUrl('https://ops:pa55w0rd@ocean.example:8443/'), 'https://ocean.example:8443/')
    assert.equal(shownUrl('http://127.0.0.1:8030'), 'http://127.0.0.1:8030')
  })
})

describe('the bound on an item', () => {
  it('an answer in time is the answer; none in time is OPS_E_TIMEOUT and the work is told to stop', async () => {
    assert.equal(await within(1000, async () => 'fast'), 'fast')
    let aborted = false
    const t0 = Date.now()
    await assert.rejects(
      within(50, (signal) => new Promise(() => signal.addEventListener('abort', () => (aborted = true)))),
      (e: { code?: string; message?: string }) => e.code === 'OPS_E_TIMEOUT' && e.message === 'no answer within 0.05 s',
    )
    assert.ok(Date.now() - t0 < 1000)
    assert.ok(aborted, 'the signal was aborted')
    await assert.rejects(within(1000, async () => Promise.reject(new Error('refused'))), /refused/)
  })
})
