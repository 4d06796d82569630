// The lab against a real Docker engine: the old and new hosts up with a small seed and the
// storage host beside them, reached with the real OpenSSH client, the lab key and the pinned
// known_hosts (host-key checking strict, always); the crisis respawns; the new host has its
// engine and host-setup; the storage host takes files over SFTP from user backup (from this
// machine and from inside the new host) and gives it nothing else; lab down leaves nothing.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { $ } from 'zx'
import { labDown, labStatus, labUp, loadLab, type Lab } from '../../../runbooks/lab/lab.ts'
import { LABEL, docker, execIn, placeFiles } from '../../../runbooks/lab/lab-docker.ts'
import { baseImageTag } from '../../../runbooks/lab/lab-images.ts'
import { labInventory } from '../../../runbooks/lab/lab-inventory.ts'
import { sshArgv } from '../../../runbooks/lab/lab-ssh.ts'
import { setRogueVariant } from '../../../runbooks/lab/rogue.ts'
import { simulateTraffic } from '../../../runbooks/lab/traffic.ts'

// A lab of its own, so the test never touches a developer's lab in .lab/.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-lab-test-'))
process.env.OCEAN_OPS_LAB_DIR = dir
const SEED = { users: 2000, telemetryRows: 50_000 }
let lab: Lab
let innerId = 'none'

type Role = 'old' | 'new' | 'storage'

function ssh(role: Role, command: string, knownHostsFile = lab.knownHostsFile) {
  const [cmd, ...args] = sshArgv({ ...lab, knownHostsFile }, lab[role])
  const r = spawnSync(cmd!, [...args, command], { encoding: 'utf8', timeout: 60_000 })
  return { code: r.status ?? -1, stdout: r.stdout.trim(), stderr: r.stderr.trim() }
}

function mustSsh(role: Role, command: string): string {
  const r = ssh(role, command)
  assert.equal(r.code, 0, `ssh ${role} ${command}: ${r.stderr}`)
  return r.stdout
}

/** OpenSSH client options for user backup: the given key, only the given known_hosts, strict checking. */
function backupOpts(identityFile: string, knownHostsFile: string): string[] {
  return ['-F', '/dev/null', '-i', identityFile, '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHostsFile}`,
    '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR']
}

/** `sftp -b -` (commands on stdin) or `ssh` as backup to the storage host's published port, from this machine. */
function asBackup(program: 'sftp' | 'ssh', args: string[], opts: { input?: string; identityFile?: string } = {}) {
  const port = program === 'sftp' ? ['-P', String(lab.storage.sshPort)] : ['-p', String(lab.storage.sshPort)]
  const argv = [...(program === 'sftp' ? ['-b', '-'] : []), ...backupOpts(opts.identityFile ?? lab.backupKey.identityFile, lab.knownHostsFile), ...port, 'backup@127.0.0.1', ...args]
  const r = spawnSync(program, argv, { encoding: 'utf8', timeout: 60_000, input: opts.input ?? '' })
  return { code: r.status ?? -1, stdout: r.stdout.trim(), stderr: r.stderr.trim() }
}

const ROGUE_PIDS = `sudo -n bash -c 'for p in /proc/[0-9]*; do case "$(readlink $p/exe 2>/dev/null)" in /tmp/mysql*) echo \${p#/proc/};; esac; done'`

before(async () => {
  lab = await labUp({ seed: SEED, log: (l) => process.stderr.write(`  lab: ${l}\n`) })
}, { timeout: 900_000 })

after(async () => {
  await labDown()
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('lab', () => {
  it('records itself in the lab dir with owner-only secrets', async () => {
    assert.deepEqual(await loadLab(), lab)
    for (const f of [lab.identityFile, lab.backupKey.identityFile, lab.knownHostsFile, lab.storageKnownHostsFile, path.join(dir, 'state.json')]) {
      assert.equal(fs.statSync(f).mode & 0o077, 0, `${f} must be owner-only`)
    }
    const known = fs.readFileSync(lab.knownHostsFile, 'utf8')
    assert.match(known, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${lab.old.sshPort},${lab.old.address.replace(/\./g, '\\.')} ssh-ed25519 `, 'm'))
    assert.match(known, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${lab.new.sshPort},`, 'm'))
    const storageLine = known.split('\n').find((l) => l.startsWith(`[127.0.0.1]:${lab.storage.sshPort},${lab.storage.address} ssh-ed25519 `))
    assert.ok(storageLine, `no storage host line in\n${known}`)
    // The new host's view: the storage host alone, under its lab address (port 22), same key.
    assert.equal(fs.readFileSync(lab.storageKnownHostsFile, 'utf8'), `${lab.storage.address} ${storageLine.split(' ').slice(1).join(' ')}\n`)
    assert.match(lab.backupKey.publicKey, /^ssh-ed25519 AAAA\S+$/)
    assert.equal(fs.readFileSync(`${lab.backupKey.identityFile}.pub`, 'utf8').split(' ').slice(0, 2).join(' '), lab.backupKey.publicKey)
  })

  it('old host: ops over ssh with the pinned key, non-root, passwordless sudo, both databases active', () => {
    assert.equal(mustSsh('old', 'id -un; sudo -n id -u'), 'ops\n0')
    assert.equal(mustSsh('old', 'systemctl is-active mariadb postgresql'), 'active\nactive')
  })

  it('old host: row counts match the seed, readable with the recorded app credentials over loopback', () => {
    const sessions = Array.from({ length: SEED.users }, (_, i) => 1 + ((i + 1) % 3)).reduce((a, b) => a + b, 0)
    const q = 'select count(*) from users; select count(*) from sessions; select count(*) from billing; select count(*) from profiles; select count(*) from telemetry'
    const pg = mustSsh('old', `PGPASSWORD=${lab.oldDb.pgPassword} psql -X -A -t -h 127.0.0.1 -p ${lab.oldDb.pgPort} -U ${lab.oldDb.pgUser} -d ${lab.oldDb.pgDatabase} -c '${q}'`)
    assert.deepEqual(pg.split('\n').map(Number), [SEED.users, sessions, SEED.users, SEED.users - Math.floor(SEED.users / 5), SEED.telemetryRows])
    const my = mustSsh('old', `mariadb -h 127.0.0.1 -P ${lab.oldDb.mysqlPort} -u ${lab.oldDb.mysqlUser} -p${lab.oldDb.mysqlPassword} -N -B ${lab.oldDb.mysqlDatabase} -e 'select count(*) from audit_log; select count(*) from feature_flags; select data_type, column_type from information_schema.columns where table_name = "feature_flags" and column_name in ("enabled", "updated_at") order by column_name'`)
    assert.deepEqual(my.split('\n'), ['5000', '120', 'tinyint\ttinyint(1)', 'datetime\tdatetime'])
  })

  it('old host: databases listen on loopback only and docker publishes nothing but sshd on 127.0.0.1', async () => {
    const listen = mustSsh('old', 'sudo -n ss -Hltn')
    for (const port of [5432, 3306]) {
      const lines = listen.split('\n').filter((l) => new RegExp(`:${port}\\s`).test(l))
      assert.ok(lines.length > 0, `nothing listens on ${port}:\n${listen}`)
      for (const l of lines) assert.match(l, new RegExp(`\\s(127\\.0\\.0\\.1|\\[::1\\]):${port}\\s`), l)
    }
    for (const role of ['old', 'new', 'storage'] as const) {
      const ports = (await $({ quiet: true })`docker port ${lab[role].containerId}`).stdout.trim()
      assert.equal(ports, `22/tcp -> 127.0.0.1:${lab[role].sshPort}`)
    }
  })

  it('old host: the rogue /tmp/mysql runs niced and respawns after a kill', async () => {
    const pids = mustSsh('old', ROGUE_PIDS).split('\n').filter(Boolean)
    assert.equal(pids.length, 1, 'exactly one rogue process')
    assert.equal(mustSsh('old', `ps -o ni=,comm= -p ${pids[0]}`).trim().replace(/\s+/g, ' '), '19 mysql')
    mustSsh('old', `sudo -n kill -KILL ${pids[0]}`)
    const deadline = Date.now() + 45_000
    let now: string[] = []
    while (Date.now() < deadline) {
      now = mustSsh('old', ROGUE_PIDS).split('\n').filter(Boolean)
      if (now.length && !now.includes(pids[0]!)) break
      await new Promise((r) => setTimeout(r, 1000))
    }
    assert.ok(now.length === 1 && now[0] !== pids[0], `no respawn within 45 s (before ${pids[0]}, now ${now.join(',')})`)
  })

  it('old host: the rogue variant that deletes its binary after start', async () => {
    const procs = await setRogueVariant(lab, 'deleted')
    assert.deepEqual(procs.map((p) => p.exe), ['/tmp/mysql (deleted)'])
    assert.equal(ssh('old', 'test -e /tmp/mysql').code, 1)
    assert.deepEqual((await setRogueVariant(lab, 'on-disk')).map((p) => p.exe), ['/tmp/mysql'])
  })

  it('new host: ops runs docker; host-setup applied (log rotation, sysctl file, sshd hardening)', () => {
    assert.equal(mustSsh('new', 'id -nG | tr " " "\\n" | grep -cx -e docker -e sudo'), '2')
    assert.match(mustSsh('new', 'docker info --format "{{.ServerVersion}} {{.LoggingDriver}}"'), /^\d+\.\d+\.\d+\S* json-file$/)
    assert.match(mustSsh('new', 'cat /etc/docker/daemon.json'), /"max-size": "10m"/)
    assert.match(mustSsh('new', 'cat /etc/sysctl.d/60-ocean.conf'), /vm\.overcommit_memory = 1/)
    assert.match(mustSsh('new', 'sudo -n sshd -T'), /^passwordauthentication no$/m)
    mustSsh('new', 'test -f /var/lib/ocean/host-setup.done')
  })

  it('new host: an image goes in over ssh (docker save | docker load) and a container runs on its engine', async () => {
    const [cmd, ...args] = sshArgv(lab, lab.new)
    await $({ quiet: true })`docker save ${baseImageTag()} | ${cmd} ${args} docker load -q`
    innerId = mustSsh('new', `docker run -d --restart unless-stopped ${baseImageTag()} sleep 4242`)
    assert.equal(mustSsh('new', `docker inspect -f {{.State.Running}} ${innerId}`), 'true')
  })

  it('new host: a container on its engine reaches the storage host\'s sshd on the lab network (where restic will run)', () => {
    const probe = `exec 3<>/dev/tcp/${lab.storage.address}/22 && head -c 8 <&3`
    assert.equal(mustSsh('new', `timeout 30 docker run --rm ${baseImageTag()} bash -c '${probe}'`), 'SSH-2.0-')
  })

  it('storage host: ops logs in as on the others; sshd gives backup SFTP only; /srv/backup is backup\'s, 0700', () => {
    assert.equal(mustSsh('storage', 'id -un; sudo -n id -u'), 'ops\n0')
    const effective = mustSsh('storage', `sudo -n sshd -T -C user=backup,host=ocean-new,addr=${lab.new.address}`).split('\n')
    for (const want of ['forcecommand internal-sftp', 'allowtcpforwarding no', 'x11forwarding no', 'permittty no', 'passwordauthentication no', 'permitrootlogin no']) {
      assert.ok(effective.includes(want), `sshd -T for backup lacks "${want}"`)
    }
    assert.ok(mustSsh('storage', `sudo -n sshd -T -C user=ops,host=x,addr=${lab.new.address}`).split('\n').includes('forcecommand none'), 'ops keeps a shell')
    assert.equal(mustSsh('storage', 'sudo -n stat -c "%U %u %a" /srv/backup /home/backup/.ssh/authorized_keys'), 'backup 1001 700\nbackup 1001 600')
    assert.equal(mustSsh('storage', 'getent passwd backup | cut -d: -f7; sudo -n passwd -S backup | cut -d" " -f2'), '/usr/sbin/nologin\nL')
  })

  it('storage host: backup puts a file into /srv/backup over SFTP from this machine (backup key, pinned host key) and lists it', () => {
    const name = `probe-${process.pid}-${Date.now()}`
    const local = path.join(dir, name)
    fs.writeFileSync(local, `${name} content\n`)
    const r = asBackup('sftp', [], { input: `put ${local} /srv/backup/${name}\nls -1 /srv/backup\n` })
    assert.equal(r.code, 0, `sftp: ${r.stderr}`)
    assert.ok(r.stdout.split('\n').some((l) => l.trim() === `/srv/backup/${name}`), `ls did not list it:\n${r.stdout}`)
    assert.equal(mustSsh('storage', `sudo -n stat -c %U /srv/backup/${name}; sudo -n cat /srv/backup/${name}`), `backup\n${name} content`)
  })

  it('storage host: backup gets no shell, no tty, no forwarding; the ops key is not backup\'s, nor backup\'s ops\'s', () => {
    for (const args of [['id'], ['-tt', 'id'], ['sh', '-c', 'id']]) {
      const r = asBackup('ssh', args)
      assert.notEqual(r.code, 0, `ssh backup ${args.join(' ')} succeeded`)
      assert.doesNotMatch(`${r.stdout}\n${r.stderr}`, /uid=/, `ssh backup ${args.join(' ')} ran a shell command`)
    }
    // stdio forwarding to the storage host's own sshd: refused, so no SSH banner comes back.
    const fwd = asBackup('ssh', ['-W', '127.0.0.1:22'])
    assert.notEqual(fwd.code, 0)
    assert.doesNotMatch(fwd.stdout, /SSH-2\.0/)
    const opsKey = asBackup('sftp', [], { input: 'ls /srv/backup\n', identityFile: lab.identityFile })
    assert.equal(opsKey.code, 255)
    assert.match(opsKey.stderr, /Permission denied/)
    const [cmd, ...args] = sshArgv({ ...lab, identityFile: lab.backupKey.identityFile }, lab.storage)
    const asOps = spawnSync(cmd!, [...args, 'id'], { encoding: 'utf8', timeout: 60_000 })
    assert.equal(asOps.status, 255)
    assert.match(asOps.stderr, /Permission denied/)
  })

  it('storage host: from inside the new host, backup reaches it over SFTP on the lab network with the inventory\'s key and known_hosts', async () => {
    const backup = labInventory(lab).backup
    assert.ok(backup?.sftp?.knownHostsFile)
    const m = /^sftp:(backup)@([^:]+):(\/srv\/backup\/ocean)$/.exec(backup.repository)
    assert.ok(m, backup.repository)
    assert.equal(m[2], lab.storage.address)
    const neu = docker().getContainer(lab.new.containerId)
    const at = `/root/.storage-probe-${process.pid}`
    await placeFiles(neu, [
      { path: `${at}/key`, content: fs.readFileSync(backup.sftp.identityFile), mode: 0o600 },
      { path: `${at}/known_hosts`, content: fs.readFileSync(backup.sftp.knownHostsFile), mode: 0o600 },
      { path: `${at}/batch`, content: `put ${at}/batch /srv/backup/from-new\nls -1 /srv/backup\n`, mode: 0o600 },
    ])
    try {
      const r = await execIn(neu, ['sftp', '-b', `${at}/batch`, ...backupOpts(`${at}/key`, `${at}/known_hosts`), `${m[1]}@${m[2]}`])
      assert.equal(r.code, 0, `sftp from the new host: ${r.stderr}`)
      assert.ok(r.stdout.split('\n').some((l) => l.trim() === '/srv/backup/from-new'), `ls did not list it:\n${r.stdout}`)
      assert.equal(mustSsh('storage', 'sudo -n stat -c %U /srv/backup/from-new'), 'backup')
    } finally {
      await execIn(neu, ['rm', '-rf', at])
    }
  })

  it('refuses a host whose key does not match the pinned one, and one not pinned at all', () => {
    const swapped = path.join(dir, 'known_hosts.swapped')
    const lines = fs.readFileSync(lab.knownHostsFile, 'utf8').trim().split('\n')
    const newKey = lines[1]!.split(' ').slice(1).join(' ')
    fs.writeFileSync(swapped, `[127.0.0.1]:${lab.old.sshPort} ${newKey}\n`)
    const changed = ssh('old', 'true', swapped)
    assert.equal(changed.code, 255)
    assert.match(changed.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/)
    const empty = path.join(dir, 'known_hosts.empty')
    fs.writeFileSync(empty, '')
    const unknown = ssh('new', 'true', empty)
    assert.equal(unknown.code, 255)
    assert.match(unknown.stderr, /Host key verification failed/)
  })

  it('simulates the old app\'s writes at a bounded rate', async () => {
    const before = Number(mustSsh('old', `sudo -n -u postgres psql -X -A -t -d ocean -c 'select count(*) from telemetry'`))
    const counts = await simulateTraffic(lab, { rate: 50, seconds: 2 })
    assert.deepEqual(counts, { seconds: 2, users: 10, sessions: 30, billingUpdates: counts.billingUpdates, telemetry: 60 })
    assert.ok(counts.billingUpdates > 0 && counts.billingUpdates <= 10)
    const after = Number(mustSsh('old', `sudo -n -u postgres psql -X -A -t -d ocean -c 'select count(*) from telemetry'`))
    assert.equal(after - before, 60)
  })

  it('lab up again reuses the running lab; status reports it', async () => {
    const started = Date.now()
    const again = await labUp({ seed: SEED })
    assert.equal(again.id, lab.id)
    assert.equal(again.old.containerId, lab.old.containerId)
    assert.equal(again.storage.containerId, lab.storage.containerId)
    assert.ok(Date.now() - started < 60_000)
    const s = await labStatus()
    assert.equal(s.up, true)
    assert.equal(s.lab?.id, lab.id)
    assert.deepEqual(s.containers.map((c) => `${c.role}:${c.state}`), ['new:running', 'old:running', 'storage:running'])
  })

  it('lab down removes every container, network and volume with the lab label', async () => {
    await labDown()
    for (const kind of ['ps -a', 'network ls', 'volume ls']) {
      const out = (await $({ quiet: true })`docker ${kind.split(' ')} -q --filter ${`label=${LABEL}=${lab.id}`}`).stdout.trim()
      assert.equal(out, '', `docker ${kind} still lists lab objects`)
    }
    assert.equal((await labStatus()).up, false)
    assert.equal(await loadLab(), undefined)
    // The new host's engine shares this machine's cgroup tree: its containers must not leave cgroups behind.
    const leftovers = fs.readdirSync('/sys/fs/cgroup').filter((h) => fs.existsSync(`/sys/fs/cgroup/${h}/docker/${innerId}`))
    assert.deepEqual(leftovers, [])
  })
})
