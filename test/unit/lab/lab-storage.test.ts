// The lab's storage host (the Storage Box stand-in) without Docker: its keys, the files placed
// into it, the backup target the lab inventory names, its sshd rules, and a lab recorded before
// it existed being made anew rather than crashing.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { loadInventory } from '../../../runbooks/lib/inventory.ts'
import { refreshLab, sshFiles } from '../../../runbooks/lab/lab-create.ts'
import { LAB_BACKUP, labInventory, writeLabInventory } from '../../../runbooks/lab/lab-inventory.ts'
import { generateLabKeys, readLabKeys } from '../../../runbooks/lab/lab-keys.ts'
import { labFiles, removeLabFiles, type LabState } from '../../../runbooks/lab/lab-state.ts'
import type { Lab } from '../../../runbooks/lab/lab-types.ts'

const STORAGE_IMAGE = new URL('../../../runbooks/lab/images/storage/', import.meta.url).pathname
const mode = (p: string) => fs.statSync(p).mode & 0o777

function withDir(fn: (dir: string) => Promise<void> | void) {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-storage-'))
    try {
      await fn(dir)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

function sampleLab(dir: string): Lab {
  const host = (n: number) => ({ containerId: `c${n}`, address: `172.30.0.${n}`, sshPort: 40000 + n, user: 'ops' })
  const f = labFiles(dir)
  return {
    id: 'abcd1234', dir, networkId: 'n', networkName: 'ocean-lab-abcd1234',
    old: host(2), new: host(3), storage: host(4),
    identityFile: f.identity,
    backupKey: { identityFile: f.backupIdentity, publicKey: 'ssh-ed25519 AAAAbackup' },
    knownHostsFile: f.knownHosts,
    storageKnownHostsFile: f.storageKnownHosts,
    oldDb: { pgPort: 5432, pgUser: 'ocean', pgPassword: 'p', pgDatabase: 'ocean', mysqlPort: 3306, mysqlUser: 'legacy', mysqlPassword: 'm', mysqlDatabase: 'legacy' },
  }
}

test('keys: a backup client key (0600) beside the ops key, a host key per role; a lab without them reads as none', withDir(async (dir) => {
  const keys = await generateLabKeys(dir, 'abcd1234')
  assert.equal(keys.backup.identityFile, path.join(dir, 'backup_ed25519'))
  assert.equal(mode(keys.backup.identityFile), 0o600)
  assert.match(keys.backup.publicKey, /^ssh-ed25519 AAAA\S+$/)
  assert.notEqual(keys.backup.publicKey, keys.clientPublicKey)
  assert.deepEqual(Object.keys(keys.hostKeys), ['old', 'new', 'storage'])
  assert.deepEqual(readLabKeys(dir), keys)
  // A lab made before the storage host: no storage host key, or no backup key.
  const storageKey = keys.hostKeys.storage.privateKeyFile
  fs.renameSync(storageKey, `${storageKey}.away`)
  assert.equal(readLabKeys(dir), undefined)
  fs.renameSync(`${storageKey}.away`, storageKey)
  fs.rmSync(`${keys.backup.identityFile}.pub`)
  assert.equal(readLabKeys(dir), undefined)
  removeLabFiles(dir)
  assert.equal(fs.existsSync(keys.backup.identityFile), false)
}))

test('files placed before first boot: the storage host gets backup\'s authorized_keys (restricted, uid 1001, 0600); the others do not', withDir(async (dir) => {
  const keys = await generateLabKeys(dir, 'abcd1234')
  const storage = sshFiles(keys, 'storage')
  const ak = storage.find((f) => f.path === '/home/backup/.ssh/authorized_keys')
  assert.ok(ak, 'backup authorized_keys placed')
  assert.equal(ak.content, `restrict ${keys.backup.publicKey} ocean-backup-lab\n`)
  assert.deepEqual([ak.mode, ak.uid, ak.gid], [0o600, LAB_BACKUP.uid, LAB_BACKUP.uid])
  assert.equal(storage.find((f) => f.path === '/etc/ssh/ssh_host_ed25519_key.pub')?.content, `${keys.hostKeys.storage.publicKey} root@ocean-storage\n`)
  assert.ok(storage.some((f) => f.path === '/home/ops/.ssh/authorized_keys' && f.content === `${keys.clientPublicKey} ocean-ops-lab\n`))
  for (const role of ['old', 'new'] as const) assert.ok(!sshFiles(keys, role).some((f) => f.path.startsWith('/home/backup/')), role)
}))

test('inventory: the backup target is the storage host over SFTP on the lab network, pinned by its own known_hosts, and validates', withDir((dir) => {
  const lab = sampleLab(dir)
  const inv = labInventory(lab)
  const password = path.join(dir, 'secrets', 'backup-password')
  assert.deepEqual(inv.backup, {
    repository: 'sftp:backup@172.30.0.4:/srv/backup/ocean',
    password: `file:${password}`,
    sftp: { identityFile: path.join(dir, 'backup_ed25519'), knownHostsFile: path.join(dir, 'storage_known_hosts') },
    sqliteSeconds: 30,
    duckdbSeconds: 900,
  })
  assert.equal(mode(password), 0o600)
  const made = fs.readFileSync(password, 'utf8')
  assert.match(made, /^[0-9a-f]{48}$/)
  assert.equal(labInventory(lab).backup?.password, `file:${password}`)
  assert.equal(fs.readFileSync(password, 'utf8'), made, 'made once: a second inventory keeps the password')
  assert.deepEqual(loadInventory(writeLabInventory(lab)).backup, inv.backup)
}))

test('a lab recorded before the storage host existed is made anew, not refreshed', withDir(async (dir) => {
  const { storage: _s, backupKey: _b, storageKnownHostsFile: _k, ...before } = sampleLab(dir)
  const state = { version: 1, lab: before, volumes: [], images: { old: 'o', new: 'n' }, seed: { users: 1, telemetryRows: 1 }, hostSetupHash: '', rogueVariant: 'on-disk', createdAt: '' } as unknown as LabState
  assert.equal(await refreshLab(state, { log: () => {} }), undefined)
}))

test('storage image: backup is SFTP only (no tty, no forwarding) in its own Match block; repositories in /srv/backup (0700, backup\'s)', () => {
  const conf = fs.readFileSync(path.join(STORAGE_IMAGE, 'sshd-storage.conf'), 'utf8')
  const lines = conf.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
  assert.equal(lines[0], 'Match User backup')
  for (const want of ['ForceCommand internal-sftp', 'AllowTcpForwarding no', 'X11Forwarding no', 'PermitTTY no']) assert.ok(lines.includes(want), want)
  const dockerfile = fs.readFileSync(path.join(STORAGE_IMAGE, 'Dockerfile'), 'utf8')
  assert.match(dockerfile, new RegExp(`--uid ${LAB_BACKUP.uid} --user-group backup`))
  assert.match(dockerfile, /install -d -m 700 -o backup -g backup \/srv\/backup/)
  assert.match(dockerfile, /passwd -l backup/)
})
