// The backup's pure parts: restic's command lines (host keys pinned, no secret in an argument),
// the backup container's definition (no secret in its environment), which snapshots a restore to
// a time uses, and the status's verdict against the RPOs.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { backupArgs, describeResticFailure, forgetArgs, restic, sftpParts } from '../../../packages/migrate/src/backup/restic-commands.ts'
import { chooseSnapshots, type Snapshot } from '../../../packages/migrate/src/backup/backup-restore.ts'
import { backupEnv, backupNames, backupSpec, backupToolSpec } from '../../../runbooks/lib/deploy/backup-spec.ts'
import { stackNames, type StackSettings } from '../../../runbooks/lib/deploy/stack-spec.ts'
import { summarize } from '../../../runbooks/backup.ts'
import type { Inventory } from '../../../runbooks/lib/inventory.ts'

const target = { repository: 'sftp:u123@u123.your-storagebox.de:/ocean', passwordFile: '/run/backup/password', cacheDir: '/var/cache/ocean-backup/restic', sftp: { identityFile: '/run/backup/ssh_key', knownHostsFile: '/run/backup/known_hosts', port: 23 } }

describe('restic command lines', () => {
  it('SFTP goes through ssh with the pinned known_hosts and strict checking, never a password argument', () => {
    const c = restic(target, ['snapshots'])
    const opt = c.argv[c.argv.indexOf('-o') + 1]!
    assert.match(opt, /^sftp\.command=ssh -F \/dev\/null -i \/run\/backup\/ssh_key -o UserKnownHostsFile=\/run\/backup\/known_hosts -o StrictHostKeyChecking=yes/)
    assert.match(opt, /-p 23 u123@u123\.your-storagebox\.de -s sftp$/)
    assert.equal(c.env.RESTIC_PASSWORD_FILE, '/run/backup/password')
    assert.ok(!c.argv.join(' ').includes('password '))
    assert.deepEqual(sftpParts(target.repository), { user: 'u123', host: 'u123.your-storagebox.de', path: '/ocean' })
  })
  it('S3 keys travel in the environment only', () => {
    const c = restic({ repository: 's3:https://fsn1.your-objectstorage.com/b/ocean', passwordFile: '/p', cacheDir: '/c', s3: { accessKeyId: 'AK', secretAccessKey: 'SK' } }, ['init'])
    assert.deepEqual(c.argv, ['restic', 'init'])
    assert.equal(c.env.AWS_SECRET_ACCESS_KEY, 'SK')
    assert.throws(() => restic({ ...target, sftp: undefined } as never, ['init']), /sftp key/)
  })
  it('backup, retention by host and tags', () => {
    assert.deepEqual(backupArgs('ocean', ['ocean', 'sqlite'], ['/a']), ['backup', '--json', '--host', 'ocean', '--tag', 'ocean', '--tag', 'sqlite', '/a'])
    assert.deepEqual(forgetArgs('ocean', { hourly: 48, daily: 30, monthly: 12 }), ['forget', '--host', 'ocean', '--group-by', 'host,tags', '--keep-hourly', '48', '--keep-daily', '30', '--keep-monthly', '12', '--prune'])
  })
  it('reads what restic says went wrong', () => {
    assert.equal(describeResticFailure('Fatal: wrong password or no key found\n').kind, 'wrong-password')
    assert.equal(describeResticFailure('Fatal: unable to open config file: Stat: file does not exist\nIs there a repository at the following location?\n').kind, 'no-repository')
    assert.equal(describeResticFailure('Host key verification failed.\nssh command exited: exit status 255').kind, 'unreachable')
    assert.equal(describeResticFailure('ciphertext verification failed').kind, 'corrupt')
  })
})

describe('the backup container', () => {
  const names = stackNames('ocean')
  const settings: StackSettings = { stack: 'ocean', oceanImage: 'ocean:abc', redisImage: 'r', oceanPort: 8030, publishAddress: '0.0.0.0', apiProcesses: 2, cpus: 6, memoryMb: 4096, redisMemoryMb: 1024 }
  const bn = backupNames(names, 'ocean')
  it('runs the agent with the data read-only, settings from files, nothing secret in its environment, nothing published', () => {
    const spec = backupSpec(settings, names, bn, 'h1')
    assert.deepEqual(spec.Cmd, ['node', '/app/packages/migrate/dist/backup.mjs', 'agent'])
    assert.ok(spec.HostConfig!.Binds!.includes('ocean-data:/data:ro'))
    assert.ok(spec.HostConfig!.Binds!.includes('ocean-redis-data:/redis:ro'))
    assert.ok(spec.HostConfig!.Binds!.includes('/etc/ocean-ops/ocean/backup:/run/backup:ro'))
    assert.ok(!(spec.Env ?? []).some((e) => /PASSWORD|SECRET|KEY=/.test(e)), (spec.Env ?? []).join(' '))
    assert.deepEqual(spec.HostConfig!.PortBindings, {})
    assert.notEqual(backupSpec(settings, names, bn, 'h2').Labels!['ocean-ops.spec'], spec.Labels!['ocean-ops.spec'], 'new settings, new container')
  })
  it('a live restore gets write access to the volumes; other tool runs do not', () => {
    assert.ok(backupToolSpec(settings, names, bn, ['restore'], { live: true }).HostConfig!.Binds!.includes('ocean-data:/data'))
    assert.ok(backupToolSpec(settings, names, bn, ['drill']).HostConfig!.Binds!.includes('ocean-data:/data:ro'))
  })
  it('backup.env holds the schedule, retention and API address', () => {
    const env = backupEnv({ repository: target.repository, password: 'file:/x', sftp: { identityFile: '/k', knownHosts: 'h ssh-ed25519 AAAA', port: 23 }, sqliteSeconds: 30 }, 'ocean', names)
    assert.match(env, /^RESTIC_REPOSITORY=sftp:u123@/m)
    assert.match(env, /^OCEAN_BACKUP_SQLITE_SECONDS=30$/m)
    assert.match(env, /^OCEAN_BACKUP_DUCKDB_SECONDS=900$/m)
    assert.match(env, /^OCEAN_BACKUP_KEEP=48,30,12$/m)
    assert.match(env, /^OCEAN_API_URL=http:\/\/ocean-api:8030$/m)
    assert.match(env, /^OCEAN_BACKUP_SFTP_PORT=23$/m)
  })
})

describe('a restore\'s snapshots and the status verdict', () => {
  const snap = (id: string, time: string, tags: string[]): Snapshot => ({ id, short_id: id, time, tags, paths: [] })
  const all = [snap('a', '2026-12-05T10:00:00Z', ['ocean', 'sqlite', 'duckdb', 'redis']), snap('b', '2026-12-05T10:00:30Z', ['ocean', 'sqlite']), snap('c', '2026-12-05T10:01:00Z', ['ocean', 'sqlite'])]
  it('users from the newest round at or before the time, telemetry from the newest DuckDB round', () => {
    assert.deepEqual(Object.fromEntries(Object.entries(chooseSnapshots(all, new Date('2026-12-05T10:00:45Z'))).map(([k, v]) => [k, v?.id])), { sqlite: 'b', duckdb: 'a' })
    assert.deepEqual(chooseSnapshots(all, new Date('2026-12-05T09:00:00Z')), { sqlite: undefined, duckdb: undefined })
  })
  it('late backups and a failed drill are problems; fresh ones and a passed drill are not', () => {
    const inv = { backup: { repository: 'sftp:u@h:/p', password: 'file:/x', duckdbSeconds: 60 } } as unknown as Inventory
    const now = Date.parse('2026-12-05T10:01:30Z')
    const drill = { at: '2026-12-05T10:01:10Z', ok: true, problems: [] } as never
    const good = summarize(inv, { snapshots: all, agent: null, lastDrill: drill }, now)
    assert.equal(good.newest.sqlite?.ageSeconds, 30)
    assert.equal(good.ok, true, good.problems.join('; '))
    const late = summarize(inv, { snapshots: all, agent: { lastError: { at: 'x', message: 'storage unreachable' } }, lastDrill: { ...(drill as object), ok: false, problems: ['ocean.db users: 3 rows restored, 4 recorded'] } as never }, now + 120_000)
    assert.equal(late.ok, false)
    assert.match(late.problems.join('; '), /users? .*RPO 60 s.*storage unreachable/)
    assert.match(late.problems.join('; '), /drill .* failed/)
    assert.match(summarize(inv, { snapshots: [], agent: null, lastDrill: null }, now).problems.join('; '), /no users \(SQLite\) backup yet.*no restore drill/)
  })
})

describe('the inventory\'s backup section', () => {
  const base = { schemaVersion: 1, newHost: { address: 'h', user: 'ops', knownHosts: 'h ssh-ed25519 AAAAC3Nza' } }
  it('takes an SFTP target with its key and pinned host key, or an S3 target with its key pair', async () => {
    const { parseInventory } = await import('../../../runbooks/lib/inventory.ts')
    const sftp = parseInventory({ ...base, backup: { repository: 'sftp:u1@box.example:/ocean', password: 'env:RESTIC_PASSWORD', sftp: { port: 23, identityFile: '/k', knownHosts: '[box.example]:23 ssh-ed25519 AAAA' } } })
    assert.equal(sftp.backup?.sftp?.port, 23)
    const s3 = parseInventory({ ...base, backup: { repository: 's3:https://fsn1.your-objectstorage.com/b/ocean', password: 'file:/p', s3: { accessKeyId: 'env:A', secretAccessKey: 'env:B' } } })
    assert.equal(s3.backup?.s3?.accessKeyId, 'env:A')
  })
  it('refuses a password written inline, an SFTP target without its host key, an S3 target without keys, a repository of another kind', async () => {
    const { parseInventory } = await import('../../../runbooks/lib/inventory.ts')
    const bad = (backup: unknown) => () => parseInventory({ ...base, backup })
    assert.throws(bad({ repository: 'sftp:u@h:/p', password: 'hunter2', sftp: { identityFile: '/k', knownHosts: 'h ssh-ed25519 AAAA' } }), /secret reference/)
    assert.throws(bad({ repository: 'sftp:u@h:/p', password: 'env:P', sftp: { identityFile: '/k' } }), /knownHosts/)
    assert.throws(bad({ repository: 'sftp:u@h:/p', password: 'env:P' }), /sftp/)
    assert.throws(bad({ repository: 's3:https://x/b', password: 'env:P' }), /s3/)
    assert.throws(bad({ repository: 'rest:http://x', password: 'env:P' }), /repository/)
  })
})
