// deploy and verify against the lab's new host, as a user runs them: the lab's inventory (pinned
// host keys, the lab key, secrets by file reference), the image shipped over SSH into the new
// host's own Docker engine, the API reached at the new host's lab address. A second deploy
// changes nothing; a wrong pinned key is refused before anything happens. The monitoring stack
// comes with it: every target up, reached only through `ocean-ops monitor`'s SSH tunnel.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { deploy, repoRoot } from '../../../runbooks/deploy.ts'
import { closeHosts } from '../../../runbooks/lib/host/connect.ts'
import { ensureOceanImage } from '../../../runbooks/lib/images/ocean-image.ts'
import { loadInventory, type Inventory } from '../../../runbooks/lib/inventory.ts'
import { runRunbook } from '../../../runbooks/lib/runbook.ts'
import { verify } from '../../../runbooks/verify.ts'
import { migrateDataOnNewHost } from '../../../runbooks/migrate-data.ts'
import { labDown, labUp, type Lab } from '../../../runbooks/lab/lab.ts'
import { connectHost } from '../../../runbooks/lib/host/connect.ts'
import { dockerOn } from '../../../runbooks/lib/host/docker-over-ssh.ts'
import { resolveSecret } from '../../../runbooks/lib/inventory.ts'
import { monitoringNames } from '../../../runbooks/lib/monitoring/monitoring-spec.ts'
import { stackNames } from '../../../runbooks/lib/deploy/stack-spec.ts'
import { openMonitorTunnels } from '../../../runbooks/monitor.ts'
import { writeLabInventory } from '../../../runbooks/lab/lab-inventory.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-lab-deploy-'))
process.env.OCEAN_OPS_LAB_DIR = dir
const SEED_USERS = 500
let lab: Lab
let inv: Inventory
let image: string
const journal = path.join(dir, 'journal.db')
const timings: string[] = []

const run = <T>(name: string, body: Parameters<typeof runRunbook<T>>[2]) => runRunbook(name, { journalPath: journal, log: () => {} }, body)

before(async () => {
  let t = Date.now()
  lab = await labUp({ seed: { users: SEED_USERS, telemetryRows: 5000 }, log: (l) => process.stderr.write(`  lab: ${l}\n`) })
  timings.push(`lab up ${((Date.now() - t) / 1000).toFixed(1)} s`)
  t = Date.now()
  image = await ensureOceanImage(repoRoot, () => {})
  timings.push(`ocean image ${((Date.now() - t) / 1000).toFixed(1)} s`)
  inv = loadInventory(writeLabInventory(lab))
}, { timeout: 900_000 })

after(async () => {
  process.stderr.write(`  timings: ${timings.join(', ')}\n`)
  await closeHosts()
  await labDown()
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('deploy and verify on the lab\'s new host', { timeout: 900_000 }, () => {
  it('the inventory the lab writes is valid and keeps its secrets in owner-only files', () => {
    assert.equal(inv.newHost.port, lab.new.sshPort)
    for (const ref of [inv.ocean?.apiKey, inv.ocean?.redisPassword]) {
      assert.match(ref ?? '', /^file:/)
      assert.equal(fs.statSync(ref!.slice(5)).mode & 0o077, 0)
    }
  })

  it('refuses the new host when the pinned key is another host\'s', async () => {
    const wrong = path.join(dir, 'wrong_known_hosts')
    const lines = fs.readFileSync(lab.knownHostsFile, 'utf8').split('\n').filter(Boolean)
    const oldKey = lines.find((l) => l.startsWith(`[127.0.0.1]:${lab.old.sshPort}`))!.split(' ').slice(1).join(' ')
    fs.writeFileSync(wrong, `[127.0.0.1]:${lab.new.sshPort} ${oldKey}\n`)
    await closeHosts()
    await assert.rejects(
      run('deploy', (rb) => deploy(rb, { ...inv, newHost: { ...inv.newHost, knownHostsFile: wrong } }, { image })),
      (e: Error & { code?: string }) => e.code === 'OPS_E_HOST_KEY' && /ssh-keyscan|fingerprint/i.test(e.message),
    )
    await closeHosts()
  })

  it('deploys from nothing, ships the image over SSH, and the API answers at the new host\'s address', async () => {
    const t = Date.now()
    const r = await run('deploy', (rb) => deploy(rb, inv, { image }))
    timings.push(`deploy from nothing ${((Date.now() - t) / 1000).toFixed(1)} s (${(r.shippedBytes / 1e6).toFixed(0)} MB shipped)`)
    assert.equal(r.changed, true)
    assert.ok(r.shippedBytes > 0)
    assert.equal((await fetch(`${inv.ocean!.url}/ready`)).status, 200)
  })

  it('a second deploy changes nothing and ships nothing', async () => {
    const t = Date.now()
    const r = await run('deploy', (rb) => deploy(rb, inv, { image }))
    timings.push(`re-deploy ${((Date.now() - t) / 1000).toFixed(1)} s`)
    assert.equal(r.changed, false)
    assert.equal(r.shippedBytes, 0)
  })

  it('migrate-data --on-new-host copies the old PostgreSQL into the service\'s volume, verified; the API serves it', async () => {
    const inventory = path.join(lab.dir, 'inventory.json')
    const flags = { inventory, journal }
    const t = Date.now()
    await migrateDataOnNewHost(flags)
    timings.push(`migrate on the new host ${((Date.now() - t) / 1000).toFixed(1)} s`)
    const headers = { authorization: `Bearer ${fs.readFileSync(inv.ocean!.apiKey!.slice(5), 'utf8')}` }
    const status = (await (await fetch(`${inv.ocean!.url}/api/ocean/status`, { headers })).json()) as { counts: { users: number } }
    assert.equal(status.counts.users, SEED_USERS)
    const user = (await (await fetch(`${inv.ocean!.url}/api/ocean/users/1`, { headers })).json()) as { id: number; email: string }
    assert.equal(user.id, 1)
    assert.match(user.email, /@/)
    // A second copy finds everything verified and changes nothing.
    await migrateDataOnNewHost(flags)
    // --verify-only reads both sides again.
    await migrateDataOnNewHost({ ...flags, mode: 'verify-only' })
  })

  // After the migration: verify's smoke writes rows of its own, which a copy into a used target would (rightly) flag.
  it('verify passes there, database and Redis ports closed from outside', async () => {
    const r = await run('verify', (rb) => verify(rb, inv, { reportDir: path.join(dir, 'reports'), smokeEvents: 100, load: { seconds: 2, connections: 4, p99Ms: 2000, minRps: 10 } }))
    assert.equal(r.ok, true, JSON.stringify(r.checks.filter((c) => !c.ok)))
    assert.ok(r.checks.some((c) => c.name.startsWith('exposure:') && c.ok))
  })
})

describe('monitoring on the lab\'s new host', { timeout: 300_000 }, () => {
  const m = monitoringNames(stackNames('ocean'), 'ocean')
  const containers = [m.prometheus, m.alertmanager, m.nodeExporter, m.redisExporter]

  it('runs Prometheus, Alertmanager and both exporters healthy, unprivileged, with no secret in docker inspect', async () => {
    const docker = await dockerOn(await connectHost(inv.newHost))
    const secrets = [resolveSecret(inv.ocean!.apiKey, 'api key'), resolveSecret(inv.ocean!.redisPassword, 'redis password')]
    const published: string[] = []
    for (const name of containers) {
      const info = await docker.getContainer(name).inspect()
      assert.equal(info.State.Health?.Status, 'healthy', name)
      assert.equal(info.Config.User, '10003', name)
      const text = JSON.stringify(info)
      for (const secret of secrets) assert.ok(!text.includes(secret), `${name}: a secret in docker inspect`)
      for (const [port, bindings] of Object.entries(info.HostConfig.PortBindings ?? {})) for (const b of bindings as Array<{ HostIp: string }>) published.push(`${name} ${port} ${b.HostIp}`)
    }
    assert.deepEqual(published.sort(), ['ocean-alertmanager 9093/tcp 127.0.0.1', 'ocean-prometheus 9090/tcp 127.0.0.1'])
    const host = await connectHost(inv.newHost)
    const modes = await host.exec(['sh', '-c', `stat -c '%a %u %n' ${m.settingsDir}/*.yml ${m.settingsDir}/ocean-api-key ${m.settingsDir}/redis-password`], { sudo: true })
    for (const line of modes.stdout.trim().split('\n')) assert.match(line, /^600 10003 /, line)
  })

  it('is not reachable from outside the new host: Prometheus and Alertmanager refuse at its address', async () => {
    for (const port of [9090, 9093, 9100, 9121]) {
      const outcome = await new Promise<string>((resolve) => {
        const sock = net.connect({ host: lab.new.address, port, timeout: 3000 })
        sock.once('connect', () => (sock.destroy(), resolve('connected')))
        sock.once('timeout', () => (sock.destroy(), resolve('timeout')))
        sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
      })
      assert.notEqual(outcome, 'connected', `port ${port} answers at ${lab.new.address}`)
    }
  })

  it('through ocean-ops monitor\'s tunnel: every target up, the service\'s, Redis\'s and the backup agent\'s figures in Prometheus', async () => {
    const t = await openMonitorTunnels(() => connectHost(inv.newHost), { prometheus: 0, alertmanager: 0 })
    try {
      const prom = t.tunnels.find((x) => x.name === 'Prometheus')!.url
      const query = async (q: string) => ((await (await fetch(`${prom}api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }).data.result
      const deadline = Date.now() + 90_000
      let health: Record<string, string> = {}
      for (;;) {
        const targets = ((await (await fetch(`${prom}api/v1/targets`)).json()) as { data: { activeTargets: Array<{ labels: { job: string }; health: string }> } }).data.activeTargets
        health = Object.fromEntries(targets.map((x) => [x.labels.job, x.health]))
        if (Object.values(health).every((h) => h === 'up') && Object.keys(health).length === 5) break
        if (Date.now() > deadline) break
        await new Promise((r) => setTimeout(r, 2000))
      }
      assert.deepEqual(health, { alertmanager: 'up', node: 'up', ocean: 'up', prometheus: 'up', redis: 'up' })
      const ingested = await query('ocean_telemetry_ingested_total')
      assert.ok(ingested.length === 1 && Number(ingested[0]!.value[1]) >= 100, `verify's smoke events counted: ${JSON.stringify(ingested)}`)
      const max = await query('redis_memory_max_bytes')
      assert.ok(Number(max[0]?.value[1]) > 0, 'redis_exporter logged in with the password and reads maxmemory')
      const backups = await query('ocean_backup_last_success_timestamp_seconds')
      assert.deepEqual(backups.map((r) => r.metric.kind).sort(), ['telemetry', 'users'], 'the backup agent\'s textfile metrics')
      const rules = ((await (await fetch(`${prom}api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string }> }> } }).data.groups.flatMap((g) => g.rules.map((r) => r.name))
      assert.ok(rules.includes('TargetDown') && rules.includes('BackupStale'), `rules loaded: ${rules.join(', ')}`)
      const am = t.tunnels.find((x) => x.name === 'Alertmanager')!.url
      assert.equal((await fetch(`${am}-/ready`)).status, 200)
    } finally {
      await t.close()
    }
  })
})
