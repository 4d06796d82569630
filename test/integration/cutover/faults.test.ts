// The cutover and the rollback under injected faults, on the lab (real Debian hosts, PostgreSQL as a
// systemd unit, the new host's own Docker engine), with clients writing through the floating
// address the whole time. After each fault, the side that serves the floating IP must hold every
// write either side acknowledged (counted: acknowledged vs found), the old side must take writes
// when it serves, and the journal must say what happened.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { spawn, type ChildProcess } from 'node:child_process'
import type Docker from 'dockerode'
import { cutover } from '../../../runbooks/cutover.ts'
import { deploy, repoRoot } from '../../../runbooks/deploy.ts'
import { migrateDataOnNewHost } from '../../../runbooks/migrate-data.ts'
import { prepareCutover } from '../../../runbooks/prepare.ts'
import { FLOATING_IP_ID, findOnNewSide, findOnOldSide, NEW_SERVER, OLD_SERVER, writeRehearseInventory, type Found } from '../../../runbooks/rehearse.ts'
import { rollback } from '../../../runbooks/rollback.ts'
import { stackNames } from '../../../runbooks/lib/deploy/stack-spec.ts'
import { waitReady } from '../../../runbooks/lib/migrate-remote/on-new-host.ts'
import { closeHosts, connectHost } from '../../../runbooks/lib/host/connect.ts'
import { dockerOverSsh } from '../../../runbooks/lib/host/docker-over-ssh.ts'
import type { Inventory } from '../../../runbooks/lib/inventory.ts'
import { Journal } from '../../../runbooks/lib/journal/journal.ts'
import { WriteTraffic, type TrafficSummary } from '../../../runbooks/lib/rehearse/write-traffic.ts'
import { runRunbook, type Runbook } from '../../../runbooks/lib/runbook.ts'
import { installLegacyApi } from '../../../runbooks/lab/legacy-api.ts'
import { labDown, labUp, type Lab } from '../../../runbooks/lab/lab.ts'
import { HetznerStandin } from '../../../runbooks/lab/standins/hetzner-api.ts'
import { $ } from 'zx'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-faults-'))
process.env.OCEAN_OPS_LAB_DIR = dir
const journal = path.join(dir, 'journal.db')
const reportDir = path.join(dir, 'reports')
const names = stackNames('ocean')
let lab: Lab
let standin: HetznerStandin
let inv: Inventory
let apiKey: string
let clientUrl: string
let docker: Docker
let inventoryFile: string
let traffic: WriteTraffic | undefined

const log = (l: string) => process.stderr.write(`  ${l}\n`)
const run = <T>(name: string, body: (rb: Runbook) => Promise<T>, o: { resume?: boolean } = {}) => runRunbook(name, { journalPath: journal, yes: true, log, ...o }, body)
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

before(async () => {
  lab = await labUp({ seed: { users: 500, telemetryRows: 5000 }, log: (l) => log(`lab: ${l}`) })
  const token = crypto.randomBytes(16).toString('hex')
  standin = new HetznerStandin({ token, floatingIpId: FLOATING_IP_ID, servers: { [OLD_SERVER]: { host: lab.old.address, port: 8030 }, [NEW_SERVER]: { host: lab.new.address, port: 8030 } } })
  const { url, floatingPort } = await standin.start()
  // One API process and the engine beside it: the engine can be held back while the API answers.
  ;({ inv, apiKey, inventoryFile } = writeRehearseInventory(lab, { token, endpoint: url, floatingPort }, { apiProcesses: 1 }))
  clientUrl = inv.floatingIp!.url!
  await installLegacyApi(lab, apiKey, log)
  await run('cutover-prepare', (rb) => prepareCutover(rb, inv))
  await run('deploy', (rb) => deploy(rb, inv))
  await migrateDataOnNewHost({ inventory: inventoryFile, journal })
  docker = dockerOverSsh(await connectHost(inv.newHost), { sudo: true })
}, { timeout: 1_200_000 })

after(async () => {
  await traffic?.stop(5000).catch(() => undefined)
  await standin?.stop()
  await closeHosts()
  await labDown()
  fs.rmSync(dir, { recursive: true, force: true })
})

/** Clients write through the floating address for the whole of `fn`, and a little before and after. */
async function withTraffic<T>(name: string, fn: () => Promise<T>): Promise<{ value: T | undefined; error?: Error; t: WriteTraffic; sum: TrafficSummary }> {
  const t = new WriteTraffic({ url: clientUrl, apiKey, rate: 20, prefix: `${name}-${Date.now().toString(36)}` })
  traffic = t
  t.start()
  await sleep(2000)
  let value: T | undefined
  let error: Error | undefined
  try {
    value = await fn()
  } catch (e) {
    error = e as Error
  }
  await sleep(2000)
  const sum = await t.stop()
  traffic = undefined
  return { value, error, t, sum }
}

/** Every write the clients were told succeeded is on the side that now serves the floating IP. */
async function assertNothingLost(t: WriteTraffic, sum: TrafficSummary): Promise<Found> {
  assert.ok(sum.acked.users > 3 && sum.acked.telemetry > 10, `the clients really wrote: ${JSON.stringify(sum.acked)}`)
  assert.deepEqual(sum.errors, [], 'no write refused for good')
  const side = standin.assignedServer
  const found = side === OLD_SERVER ? await findOnOldSide(inv, clientUrl, apiKey, t, sum) : await findOnNewSide(clientUrl, apiKey, t, sum, log)
  log(`found on the ${side === OLD_SERVER ? 'old' : 'new'} side: users ${found.users.found}/${found.users.acked}, events ${found.telemetry.found}/${found.telemetry.acked} (+${found.telemetry.duplicates} resent)`)
  assert.deepEqual(found.users.missing, [])
  assert.equal(found.users.found, found.users.acked)
  assert.deepEqual(found.telemetry.missing, [])
  assert.equal(found.telemetry.found, found.telemetry.acked)
  return found
}

/** The old side serves the floating address and takes a write. */
async function assertOldSideWritable(): Promise<void> {
  assert.equal(standin.assignedServer, OLD_SERVER)
  const health = (await (await fetch(`${clientUrl}/health`)).json()) as { legacy?: boolean }
  assert.equal(health.legacy, true, 'the old app answers the floating address')
  const username = `writable-${Date.now().toString(36)}`
  const res = await fetch(`${clientUrl}/api/ocean/users`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ username, email: `${username}@faults.example` }) })
  assert.equal(res.status, 201, await res.text())
}

/** The journal's last run of `runbook`: its result and its steps' results. */
function lastRun(runbook: string): { result: string; error: string | null; steps: Record<string, string> } {
  const j = Journal.open(journal)
  try {
    const r = j.lastRun(runbook)!
    return { result: r.result, error: r.error ?? null, steps: Object.fromEntries(j.steps(r.run_id).map((s) => [s.step, s.result])) }
  } finally {
    j.close()
  }
}

async function postEvents(sensor: string, values: number[]): Promise<void> {
  for (let i = 0; i < values.length; i += 500) {
    const events = values.slice(i, i + 500).map((value) => ({ sensor_id: sensor, value }))
    const res = await fetch(`${clientUrl}/api/ocean/telemetry/batch`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ events }) })
    assert.equal(res.status, 202, await res.text())
  }
}

/** Runs `script` in the new API container as its own user (the container drops every capability); returns its output. */
async function inApiContainer(script: string): Promise<string> {
  const host = await connectHost(inv.newHost)
  const r = await host.exec(['docker', 'exec', '-u', '10001', '-w', '/app/services/ocean', names.ocean, 'sh', '-c', script], { sudo: true })
  return r.stdout
}

/** Signals the engine process inside the new API container. */
async function signalEngine(signal: 'STOP' | 'CONT'): Promise<void> {
  const out = await inApiContainer(`for p in /proc/[0-9]*; do if tr '\\0' '\\n' < "$p/environ" 2>/dev/null | grep -qx 'OCEAN_ROLE=engine'; then kill -${signal} "\${p#/proc/}" && echo "\${p#/proc/}"; fi; done`)
  assert.match(out, /\d+/, `no engine process found to ${signal}`)
}

/** Each scenario starts with the clients on the old side (a failed one may have left them on the new). */
async function fromOldSide(): Promise<void> {
  if (standin.assignedServer === NEW_SERVER) await run('rollback', (r) => rollback(r, inv, { soakSeconds: 1, reportDir }))
  assert.equal(standin.assignedServer, OLD_SERVER)
}

/** `ocean-ops <args>` as an operator runs it: its own process, this suite's inventory and journal. */
function cli(args: string[]): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [path.join(repoRoot, 'runbooks/bin/ocean-ops.js'), ...args, '-i', inventoryFile, '--journal', journal, '--report', reportDir], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout!.on('data', (d: Buffer) => process.stderr.write(d))
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(d))
  return { child, exited: new Promise((r) => child.once('exit', (code) => r(code))) }
}

/** Waits until the journal shows `step` of the newest `runbook` run started and not ended. */
async function untilRunning(runbook: string, step: string): Promise<void> {
  const deadline = Date.now() + 300_000
  while (Date.now() < deadline) {
    const j = Journal.open(journal)
    try {
      const r = j.lastRun(runbook)
      if (r && r.result === 'running' && j.steps(r.run_id).some((x) => x.step === step && x.result === 'running')) return
    } finally {
      j.close()
    }
    await sleep(100)
  }
  throw new Error(`${runbook}: step ${step} never ran`)
}

/**
 * Holds the cutover's final sync (a second or less on this lab's data) long enough to inject a fault
 * in it: a session named like the migration engine's, which the freeze leaves, holds a transaction
 * id on the old database for `seconds`; the engines wait after the freeze until no session holds
 * one. Started while the engines warm up (before the freeze); it writes nothing (rolled back).
 */
async function holdFinalSync(seconds: number): Promise<void> {
  await untilRunning('cutover', 'warm final sync')
  const old = await connectHost(inv.oldHost!)
  const db = new URL(inv.oldDatabase!.url).pathname.slice(1)
  const held = old.exec(['runuser', '-u', 'postgres', '--', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', `dbname=${db} application_name='ocean-ops migrate-data'`], { sudo: true, stdin: `BEGIN; SELECT pg_current_xact_id(); SELECT pg_sleep(${seconds}); ROLLBACK;\n` })
  held.catch(() => undefined)
}

/** Kills `ocean-ops` (SIGKILL: no cleanup of any kind) once `step` runs, then runs it again with --resume. */
async function killThenResume(runbook: 'cutover' | 'rollback', step: string, at: () => Promise<void> = () => sleep(1500)): Promise<number | null> {
  const first = cli([runbook, '--yes', '--soak', '3'])
  if (step === 'final sync') await holdFinalSync(8)
  await untilRunning(runbook, step)
  await at()
  first.child.kill('SIGKILL')
  assert.equal(await first.exited, null, 'killed, not finished')
  return cli([runbook, '--resume', '--yes', '--soak', '3']).exited
}

async function backlog(base = clientUrl): Promise<{ pending_entries: number; lag_entries: number }> {
  const res = await fetch(`${base}/api/ocean/telemetry/unprocessed`, { headers: { authorization: `Bearer ${apiKey}` } })
  return (await res.json()) as { pending_entries: number; lag_entries: number }
}

async function oldSideValues(sensor: string): Promise<number[]> {
  const old = await connectHost(inv.oldHost!)
  const db = new URL(inv.oldDatabase!.url).pathname.slice(1)
  const r = await old.exec(['runuser', '-u', 'postgres', '--', 'psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db, '-v', `sensor=${sensor}`], { sudo: true, stdin: "SELECT value FROM telemetry WHERE sensor_id = :'sensor';\n" })
  return r.stdout.split('\n').filter((l) => l.trim() !== '').map(Number)
}

describe('cutover and rollback under faults (lab)', { timeout: 1_800_000 }, () => {
  it('rollback with the engine held back: every event acknowledged but still in Redis comes back to PostgreSQL, once', async () => {
    await fromOldSide()
    const cut = await withTraffic('cut', () => run('cutover', (rb) => cutover(rb, inv, { soakSeconds: 3, reportDir })))
    assert.equal(cut.error, undefined)
    assert.equal(standin.assignedServer, NEW_SERVER)
    await assertNothingLost(cut.t, cut.sum)

    // A session made on the new side: the rollback must count it as left behind.
    const user = cut.t.users[0]!
    const session = await fetch(`${clientUrl}/api/ocean/sessions/create`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ user_id: user.id }) })
    assert.equal(session.status, 201)

    await signalEngine('STOP')
    const sensor = `held-${Date.now().toString(36)}`
    const values = Array.from({ length: 3000 }, (_, i) => i)
    await postEvents(sensor, values)
    const b = await backlog()
    assert.ok(b.pending_entries + b.lag_entries >= 6, `the acknowledged events wait in the stream: ${JSON.stringify(b)}`)

    const rb = await withTraffic('rollback-held', () => run('rollback', (r) => rollback(r, inv, { soakSeconds: 3, reportDir })))
    assert.equal(rb.error, undefined, rb.error?.message)
    assert.ok(rb.value!.buffer!.storedEvents >= values.length, `the drain stored the held events: ${JSON.stringify(rb.value!.buffer)}`)
    assert.ok(rb.value!.sessionsNotCarriedBack >= 1)
    const back = await oldSideValues(sensor)
    assert.equal(back.length, values.length, 'none missing, none twice')
    assert.deepEqual([...back].sort((x, y) => x - y), values)
    await assertNothingLost(rb.t, rb.sum)
    await assertOldSideWritable()
    const j = lastRun('rollback')
    assert.equal(j.result, 'ok')
    assert.equal(j.steps['drain buffer'], 'ok')
  })

  it('the Hetzner API answers 500 to every assign: the cutover rolls back by itself, nothing lost', async () => {
    await fromOldSide()
    standin.assignFaults = ['500', '500', '500', '500', '500']
    const r = await withTraffic('assign500', () => run('cutover', (rb) => cutover(rb, inv, { soakSeconds: 3, reportDir })))
    assert.match(r.error?.message ?? '', /500/)
    assert.deepEqual(standin.assignFaults, [], 'every attempt was made')
    await assertNothingLost(r.t, r.sum)
    await assertOldSideWritable()
    const j = lastRun('cutover')
    assert.equal(j.result, 'failed')
    assert.equal(j.steps['move traffic'], 'failed')
    assert.equal(j.steps['auto-rollback'], 'ok')
  })

  it('the assign times out after the IP moved, then 500s: the writes the new side took come back', async () => {
    await fromOldSide()
    standin.assignFaults = ['hang-applied', '500', '500', '500', '500']
    const r = await withTraffic('assign-timeout', () => run('cutover', (rb) => cutover(rb, inv, { soakSeconds: 3, reportDir })))
    assert.match(r.error?.message ?? '', /500/)
    await assertNothingLost(r.t, r.sum)
    await assertOldSideWritable()
    const j = lastRun('cutover')
    assert.equal(j.steps['auto-rollback'], 'ok')
  })

  it('the new stack\'s Redis stops right after the IP moves: the soak fails, the rollback restarts Redis to take its buffer back', async () => {
    await fromOldSide()
    standin.onAssigned = (server) => {
      standin.onAssigned = undefined
      if (server === NEW_SERVER) void docker.getContainer(names.redis).stop({ t: 5 }).catch((e: Error) => log(`stopping redis: ${e.message}`))
    }
    const r = await withTraffic('redis-down', () => run('cutover', (rb) => cutover(rb, inv, { soakSeconds: 5, reportDir })))
    assert.ok(r.error, 'the cutover failed')
    assert.match(r.error.message, /ready/)
    await assertNothingLost(r.t, r.sum)
    await assertOldSideWritable()
    const j = lastRun('cutover')
    assert.equal(j.steps.soak, 'failed')
    assert.equal(j.steps['auto-rollback'], 'ok')
    assert.equal((await docker.getContainer(names.redis).inspect()).State.Running, true, 'the rollback started Redis again')
  })

  it('ocean-ops killed (SIGKILL) in the final sync, then `cutover --resume`: the move completes, nothing lost', async () => {
    await fromOldSide()
    const r = await withTraffic('kill-cutover', () => killThenResume('cutover', 'final sync'))
    assert.equal(r.value, 0, 'the resumed cutover succeeded')
    assert.equal(standin.assignedServer, NEW_SERVER)
    await assertNothingLost(r.t, r.sum)
    const j = lastRun('cutover')
    assert.equal(j.result, 'ok')
    assert.equal(j.steps.backup, 'skipped', 'done in the killed run, not done twice')
    assert.equal(j.steps['freeze old'], 'skipped')
    assert.equal(j.steps['final sync'], 'ok')
    assert.equal(j.steps.soak, 'ok')
  })

  it('ocean-ops killed (SIGKILL) in the rollback\'s reverse sync, then `rollback --resume`: back on the old side, nothing lost', async () => {
    if (standin.assignedServer !== NEW_SERVER) await run('cutover', (rb) => cutover(rb, inv, { soakSeconds: 1, reportDir }))
    const r = await withTraffic('kill-rollback', () => killThenResume('rollback', 'reverse sync', () => sleep(500)))
    assert.equal(r.value, 0, 'the resumed rollback succeeded')
    await assertNothingLost(r.t, r.sum)
    await assertOldSideWritable()
    const j = lastRun('rollback')
    assert.equal(j.result, 'ok')
    assert.equal(j.steps['drain buffer'], 'skipped')
    assert.equal(j.steps['reverse sync'], 'ok')
  })

  it('the SSH connection to the new host drops in the final sync: the cutover rolls back by itself, nothing lost', async () => {
    await fromOldSide()
    const r = await withTraffic('ssh-drop', async () => {
      const cut = run('cutover', (rb) => cutover(rb, inv, { soakSeconds: 3, reportDir }))
      await holdFinalSync(8)
      await untilRunning('cutover', 'final sync')
      await sleep(1000)
      // Every SSH session on the new host ends (the listener stays): the runbook's connection, its
      // Docker tunnel and the relay the engine reads the old database through.
      await $`docker exec ${lab.new.containerId} sh -c ${"for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q '^sshd: ops' && kill ${p#/proc/}; done; true"}`
      return cut
    })
    assert.ok(r.error, 'the cutover failed')
    assert.equal(standin.assignedServer, OLD_SERVER)
    await assertNothingLost(r.t, r.sum)
    await assertOldSideWritable()
    const j = lastRun('cutover')
    assert.equal(j.steps['final sync'], 'failed')
    assert.equal(j.steps['auto-rollback'], 'ok')
    await closeHosts()
    docker = dockerOverSsh(await connectHost(inv.newHost), { sudo: true })
  })

  it('a target row written behind the engine\'s back: the final delta does not verify, the cutover rolls back before moving anything', async () => {
    await fromOldSide()
    // An event stored on the new side before the cutover, sent to it directly (not through the
    // floating address): the target holds a row the source never had. A SQLite row changed that way
    // is repaired from the source by the delta (its chunks are compared and repaired); an
    // append-only table's rows have no key to repair by, so the final verification must refuse.
    await docker.getContainer(names.ocean).start().catch((e: { statusCode?: number }) => assert.equal(e.statusCode, 304))
    const direct = inv.ocean!.url!
    await waitReady(direct, 60_000)
    const post = await fetch(`${direct}/api/ocean/telemetry/ingest`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ sensor_id: 'behind-the-engine', value: 1 }) })
    assert.equal(post.status, 202)
    for (let b = await backlog(direct); b.pending_entries + b.lag_entries > 0; b = await backlog(direct)) await sleep(200)
    const r = await withTraffic('mismatch', () => run('cutover', (rb) => cutover(rb, inv, { soakSeconds: 3, reportDir })))
    assert.equal((r.error as { code?: string } | undefined)?.code, 'OPS_E_MIGRATE_MISMATCH', r.error?.message)
    assert.equal(standin.assignedServer, OLD_SERVER, 'traffic never moved')
    await assertNothingLost(r.t, r.sum)
    await assertOldSideWritable()
    const j = lastRun('cutover')
    assert.equal(j.steps['final sync'], 'failed')
    assert.equal(j.steps['move traffic'], undefined)
    assert.equal(j.steps['auto-rollback'], 'ok')
  })
})
