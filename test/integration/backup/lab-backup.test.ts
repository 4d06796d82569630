// `ocean-ops backup` against the lab: the deploy's backup container ships to the storage host over
// SFTP (host key pinned), status reads the repository, `now` takes a round, the drill passes, a
// restore into a directory and over live data (refused without --yes, then done with it: users
// written after the backup are gone, those before are back), a wrong password refused, and a
// corrupted repository caught by the drill.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { deploy } from '../../../runbooks/deploy.ts'
import { backupDrill, backupNow, backupRestore, backupStatus } from '../../../runbooks/backup.ts'
import { closeHosts, connectHost } from '../../../runbooks/lib/host/connect.ts'
import { loadInventory, resolveSecret, type Inventory } from '../../../runbooks/lib/inventory.ts'
import { runRunbook } from '../../../runbooks/lib/runbook.ts'
import { labDown, labUp, type Lab } from '../../../runbooks/lab/lab.ts'
import { writeLabInventory } from '../../../runbooks/lab/lab-inventory.ts'
import { docker, mustExec } from '../../../runbooks/lab/lab-docker.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-lab-backup-'))
process.env.OCEAN_OPS_LAB_DIR = dir
let lab: Lab
let inv: Inventory
let url: string
let key: string
const journal = path.join(dir, 'journal.db')
const run = <T>(name: string, body: Parameters<typeof runRunbook<T>>[2], o: { yes?: boolean } = {}) => runRunbook(name, { journalPath: journal, log: () => {}, interactive: false, ...o }, body)

async function addUser(name: string): Promise<number> {
  const r = await fetch(`${url}/api/ocean/users`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ username: name, email: `${name}@example.test` }) })
  const text = await r.text()
  assert.equal(r.status, 201, text)
  return (JSON.parse(text) as { id: number }).id
}
async function userExists(id: number): Promise<boolean> {
  return (await fetch(`${url}/api/ocean/users/${id}`, { headers: { authorization: `Bearer ${key}` } })).status === 200
}

before(async () => {
  lab = await labUp({ seed: { users: 200, telemetryRows: 2000 }, log: (l) => process.stderr.write(`  lab: ${l}\n`) })
  inv = loadInventory(writeLabInventory(lab))
  assert.ok(inv.backup, 'the lab inventory has a backup target')
  await run('deploy', (rb) => deploy(rb, inv))
  url = inv.ocean!.url!
  key = resolveSecret(inv.ocean!.apiKey, 'api key')
}, { timeout: 900_000 })

after(async () => {
  await closeHosts()
  await labDown()
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('backups on the lab', { timeout: 900_000 }, () => {
  let early: number
  it('the backup container ships its first round to the storage host on its own', async () => {
    const deadline = Date.now() + 120_000
    let s = await run('backup-status', (rb) => backupStatus(rb, inv))
    while (!s?.newest.sqlite && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 3000))
      s = await run('backup-status', (rb) => backupStatus(rb, inv))
    }
    assert.ok(s?.newest.sqlite, `a users backup within 120 s: ${JSON.stringify(s?.agent)}`)
    assert.ok(s.newest.sqlite.ok, 'within its RPO')
    assert.match(s.problems.join('; '), /no restore drill yet/, 'status asks for a drill until there is one')
    const info = await docker().getContainer(lab.new.containerId).inspect()
    assert.ok(info.State.Running)
  })

  it('backup now takes a round with DuckDB and the AOF; the drill passes', async () => {
    early = await addUser('before-backup')
    const r = await run('backup-now', (rb) => backupNow(rb, inv))
    assert.deepEqual(r?.tags, ['ocean', 'sqlite', 'duckdb', 'redis'])
    const d = await run('backup-drill', (rb) => backupDrill(rb, inv, { reportDir: dir }))
    assert.equal(d?.ok, true, d?.problems.join('; '))
    assert.ok((d?.sqlite?.rows ?? 0) > 0 && (d?.sqlite?.tables ?? 0) >= 6, JSON.stringify(d?.sqlite))
    const s = await run('backup-status', (rb) => backupStatus(rb, inv))
    assert.equal(s?.ok, true, s?.problems.join('; '))
  })

  it('restores into a directory on the new host', async () => {
    const r = await run('backup-restore', (rb) => backupRestore(rb, inv, { at: new Date(), to: '/tmp/ocean-restore-test' }))
    assert.ok(r?.sqlite.snapshot)
    const host = await connectHost(inv.newHost)
    const ls = await host.exec(['ls', '/tmp/ocean-restore-test'], { sudo: true })
    assert.match(ls.stdout, /ocean\.db/)
    assert.match(ls.stdout, /telemetry\.duckdb/)
  })

  it('refuses to restore over live data without --yes, and leaves the service running', async () => {
    const late = await addUser('after-backup')
    await assert.rejects(run('backup-restore', (rb) => backupRestore(rb, inv, { at: new Date(), to: 'live' })), (e: { code?: string }) => e.code === 'OPS_E_CONFIRM')
    assert.equal(await userExists(late), true, 'nothing was touched')
    const r = await run('backup-restore', (rb) => backupRestore(rb, inv, { at: new Date(), to: 'live' }), { yes: true })
    assert.ok(r?.keptIn?.length, 'the replaced files are kept')
    assert.equal(await userExists(early), true, 'written before the backup: back')
    assert.equal(await userExists(late), false, 'written after the backup: not in it')
  })

  it('refuses a wrong password', async () => {
    const wrongFile = path.join(dir, 'wrong-password')
    fs.writeFileSync(wrongFile, 'not-the-password', { mode: 0o600 })
    const wrong: Inventory = { ...inv, backup: { ...inv.backup!, password: `file:${wrongFile}` } }
    await assert.rejects(run('deploy', (rb) => deploy(rb, wrong)), (e: { code?: string; message: string }) => e.code === 'OPS_E_BACKUP_PASSWORD' && /password/.test(e.message))
    await run('deploy', (rb) => deploy(rb, inv)) // the right settings back
  })

  it('the drill catches a corrupted repository', async () => {
    const storage = docker().getContainer(lab.storage.containerId)
    const n = await mustExec(storage, 'corrupt the repository\'s data packs', ['sh', '-c', 'for f in $(find /srv/backup/ocean/data -type f); do printf "garbage-garbage-garbage" | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null; done; find /srv/backup/ocean/data -type f | wc -l'])
    assert.ok(Number(n.trim()) > 0, 'packs were there to corrupt')
    // The cache would answer from local copies of the metadata; the data packs are what is read.
    const d = await run('backup-drill', (rb) => backupDrill(rb, inv, { reportDir: dir }))
    assert.equal(d?.ok, false)
    assert.ok((d?.problems.length ?? 0) > 0)
  })
})
