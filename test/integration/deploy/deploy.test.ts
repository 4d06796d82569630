// Deploy over a real sshd to a real Docker engine (this machine's, reached through SSH as the
// runbooks reach the new host): from nothing, re-deploy no-op, a failing release keeps the old
// one serving, a good release keeps the previous for --rollback.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import Docker from 'dockerode'
import { $ } from 'zx'
import { deploy, repoRoot, rollbackRelease } from '../../../runbooks/deploy.ts'
import { waitHealthy } from '../../../runbooks/lib/deploy/docker-ops.ts'
import { stackNames } from '../../../runbooks/lib/deploy/stack-spec.ts'
import { closeHosts } from '../../../runbooks/lib/host/connect.ts'
import { ensureOceanImage } from '../../../runbooks/lib/images/ocean-image.ts'
import { parseInventory, type Inventory } from '../../../runbooks/lib/inventory.ts'
import { isOpsError } from '../../../packages/common/src/ops-error.ts'
import { runRunbook } from '../../../runbooks/lib/runbook.ts'
import { verify } from '../../../runbooks/verify.ts'
import { freePort } from '../../../scripts/lib/loopback-servers.ts'
import { startSshd, type TestSshd } from '../../helpers/sshd.ts'

const docker = new Docker()
const stack = `t${crypto.randomBytes(3).toString('hex')}`
const names = stackNames(stack)
const apiKey = crypto.randomBytes(24).toString('hex')
process.env.TEST_OCEAN_API_KEY = apiKey
process.env.TEST_REDIS_PASSWORD = crypto.randomBytes(24).toString('hex')

describe('deploy to a Docker host over SSH', { timeout: 600_000 }, () => {
  let sshd: TestSshd
  let inv: Inventory
  let port: number
  let baseImage: string
  const derived: string[] = []
  const journalPath = () => path.join(sshd.dir, 'journal.db')
  const run = <T>(name: string, body: Parameters<typeof runRunbook<T>>[2]) => runRunbook(name, { journalPath: journalPath(), log: () => {} }, body)
  const api = (p: string) => fetch(`http://127.0.0.1:${port}${p}`, { headers: { authorization: `Bearer ${apiKey}` } })
  const deriveImage = async (line: string) => {
    const tag = `ocean-test:${stack}-${derived.length}`
    await $({ quiet: true, input: `FROM ${baseImage}\n${line}\n` })`docker build -q -t ${tag} -`
    derived.push(tag)
    return tag
  }

  before(async () => {
    sshd = await startSshd()
    port = await freePort()
    baseImage = await ensureOceanImage(repoRoot, () => {})
    inv = parseInventory({
      schemaVersion: 1,
      newHost: { address: '127.0.0.1', port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, knownHostsFile: sshd.knownHostsFile },
      oceanPort: port,
      ocean: { stack, apiKey: 'env:TEST_OCEAN_API_KEY', redisPassword: 'env:TEST_REDIS_PASSWORD', apiProcesses: 0, cpus: 1, memoryMb: 512, redisMemoryMb: 128, publishAddress: '127.0.0.1' },
    })
  })

  after(async () => {
    await closeHosts()
    for (const c of await docker.listContainers({ all: true, filters: { label: [`ocean-ops.stack=${stack}`] } })) await docker.getContainer(c.Id).remove({ force: true, v: true })
    // The monitoring stack's volumes (Prometheus, Alertmanager, the textfile collector) carry the label too.
    const labelled = (await docker.listVolumes({ filters: { label: [`ocean-ops.stack=${stack}`] } })).Volumes?.map((v) => v.Name) ?? []
    for (const v of new Set([names.oceanVolume, names.redisVolume, ...labelled])) await docker.getVolume(v).remove().catch(() => undefined)
    await docker.getNetwork(names.network).remove().catch(() => undefined)
    for (const t of derived) await docker.getImage(t).remove({ force: true }).catch(() => undefined)
    fs.rmSync(names.configDir, { recursive: true, force: true })
    await sshd?.stop()
  })

  test('from nothing: Redis private with a password, Ocean healthy and answering, secrets in a 0600 file', async () => {
    const r = await run('deploy', (rb) => deploy(rb, inv, { image: baseImage }))
    assert.equal(r.changed, true)
    const redis = await docker.getContainer(names.redis).inspect()
    assert.equal(redis.State.Health?.Status, 'healthy')
    assert.deepEqual(Object.values(redis.NetworkSettings.Ports ?? {}).filter(Boolean), [], 'Redis is not published')
    assert.doesNotMatch(JSON.stringify(redis.Config), new RegExp(process.env.TEST_REDIS_PASSWORD!), 'no password in docker inspect')
    const ocean = await docker.getContainer(names.ocean).inspect()
    assert.equal(ocean.State.Health?.Status, 'healthy')
    assert.doesNotMatch(JSON.stringify(ocean.Config), new RegExp(apiKey), 'no API key in docker inspect')
    assert.equal(fs.statSync(names.envFile).mode & 0o777, 0o600)
    assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200)
    const created = await (await fetch(`http://127.0.0.1:${port}/api/ocean/users`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ username: 'deploy-test', email: 'd@example.com' }) })).json() as { id: number }
    assert.equal((await api(`/api/ocean/users/${created.id}`)).status, 200)
  })

  test('re-deploying with nothing changed changes nothing', async () => {
    const before = (await docker.getContainer(names.ocean).inspect()).Id
    const r = await run('deploy', (rb) => deploy(rb, inv, { image: baseImage }))
    assert.equal(r.changed, false)
    assert.equal(r.shippedBytes, 0)
    assert.equal((await docker.getContainer(names.ocean).inspect()).Id, before)
  })

  test('verify passes on the good deploy and writes Markdown, JSON and JUnit', async () => {
    const reportDir = path.join(sshd.dir, 'reports')
    const r = await run('verify', (rb) => verify(rb, inv, { reportDir, smokeEvents: 200, load: { seconds: 2, connections: 4, p99Ms: 1000, minRps: 20 } }))
    assert.equal(r.ok, true, JSON.stringify(r.checks.filter((c) => !c.ok)))
    const names = r.checks.map((c) => c.name)
    for (const want of ['http: /ready', 'smoke:', `containers: ${stack}-redis healthy`, 'exposure: 127.0.0.1:6379', 'load: latency p99', 'resources:']) {
      assert.ok(names.some((n) => n.startsWith(want)), `a check starting with "${want}"`)
    }
    assert.match(fs.readFileSync(r.files.junit, 'utf8'), /<testsuite [^>]*failures="0"/)
    assert.equal(JSON.parse(fs.readFileSync(r.files.json, 'utf8')).ok, true)
  })

  test('verify --no-smoke writes nothing into the service', async () => {
    const users = async () => ((await (await fetch(`http://127.0.0.1:${port}/api/ocean/status`, { headers: { authorization: `Bearer ${process.env.TEST_OCEAN_API_KEY}` } })).json()) as { counts: { users: number } }).counts.users
    const before = await users()
    const r = await run('verify', (rb) => verify(rb, inv, { reportDir: path.join(sshd.dir, 'reports'), smoke: false }))
    assert.equal(r.ok, true, JSON.stringify(r.checks.filter((c) => !c.ok)))
    assert.ok(!r.checks.some((c) => /^(smoke|load):/.test(c.name)), 'no smoke and no load check')
    assert.ok(r.checks.some((c) => c.name.startsWith('http: /ready')))
    assert.equal(await users(), before)
  })

  test('verify fails, naming the broken check, when Redis is down', async () => {
    await docker.getContainer(names.redis).stop({ t: 1 })
    try {
      const r = await run('verify', (rb) => verify(rb, inv, { reportDir: path.join(sshd.dir, 'reports'), load: false }))
      assert.equal(r.ok, false)
      const failed = r.checks.filter((c) => !c.ok).map((c) => c.name)
      assert.ok(failed.includes('http: /ready (Redis, SQLite, DuckDB reachable)'), failed.join(', '))
      assert.ok(failed.some((n) => n.startsWith('smoke:')))
      assert.match(fs.readFileSync(r.files.markdown, 'utf8'), /\*\*FAIL\*\*/)
    } finally {
      await docker.getContainer(names.redis).start()
      await waitHealthy(docker, names.redis, 30_000, () => {})
      await waitHealthy(docker, names.ocean, 60_000, () => {})
    }
  })

  test('a release that cannot become healthy is refused; the running one keeps serving', async () => {
    const broken = await deriveImage('ENV OCEAN_MAX_DELIVERIES=0')
    const live = await docker.getContainer(names.ocean).inspect()
    await assert.rejects(run('deploy', (rb) => deploy(rb, inv, { image: broken, healthTimeoutMs: 30_000 })), (e) => {
      assert.ok(isOpsError(e) && e.code === 'OPS_E_DEPLOY', String(e))
      assert.match(e.message, /OCEAN_MAX_DELIVERIES/, 'the failed release\'s logs are shown')
      assert.match(e.message, /not touched/)
      return true
    })
    const after = await docker.getContainer(names.ocean).inspect()
    assert.equal(after.Id, live.Id)
    assert.equal(after.State.Running, true)
    assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200)
  })

  test('a new release keeps the previous one; --rollback brings it back, data intact', async () => {
    const first = await docker.getContainer(names.ocean).inspect()
    const v2 = await deriveImage('LABEL ocean.release=v2')
    const r = await run('deploy', (rb) => deploy(rb, inv, { image: v2 }))
    assert.equal(r.changed, true)
    assert.equal((await docker.getContainer(names.ocean).inspect()).Config.Image, v2)
    assert.equal((await docker.getContainer(names.oceanPrevious).inspect()).Id, first.Id)
    assert.equal((await api('/api/ocean/users/1')).status, 200, 'the data volume moved with the release')

    const back = await run('deploy-rollback', (rb) => rollbackRelease(rb, inv))
    assert.equal(back, first.Config.Image)
    const now = await docker.getContainer(names.ocean).inspect()
    assert.equal(now.Id, first.Id)
    assert.equal(now.State.Health?.Status, 'healthy')
    assert.equal((await docker.getContainer(names.oceanPrevious).inspect()).Config.Image, v2)
    assert.equal((await api('/api/ocean/users/1')).status, 200)
  })
})
