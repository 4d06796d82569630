// The lab against a real Docker engine: both hosts up with a small seed, reached with the real
// OpenSSH client, the lab key and the pinned known_hosts (host-key checking strict, always);
// the crisis respawns; the new host has its engine and host-setup; lab down leaves nothing.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { $ } from 'zx'
import { labDown, labStatus, labUp, loadLab, type Lab } from '../../../runbooks/lab/lab.ts'
import { LABEL } from '../../../runbooks/lab/lab-docker.ts'
import { baseImageTag } from '../../../runbooks/lab/lab-images.ts'
import { sshArgv } from '../../../runbooks/lab/lab-ssh.ts'
import { setRogueVariant } from '../../../runbooks/lab/rogue.ts'
import { simulateTraffic } from '../../../runbooks/lab/traffic.ts'

// A lab of its own, so the test never touches a developer's lab in .lab/.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-lab-test-'))
process.env.OCEAN_OPS_LAB_DIR = dir
const SEED = { users: 2000, telemetryRows: 50_000 }
let lab: Lab
let innerId = 'none'

function ssh(role: 'old' | 'new', command: string, knownHostsFile = lab.knownHostsFile) {
  const [cmd, ...args] = sshArgv({ ...lab, knownHostsFile }, lab[role])
  const r = spawnSync(cmd!, [...args, command], { encoding: 'utf8', timeout: 60_000 })
  return { code: r.status ?? -1, stdout: r.stdout.trim(), stderr: r.stderr.trim() }
}

function mustSsh(role: 'old' | 'new', command: string): string {
  const r = ssh(role, command)
  assert.equal(r.code, 0, `ssh ${role} ${command}: ${r.stderr}`)
  return r.stdout
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
    for (const f of [lab.identityFile, lab.knownHostsFile, path.join(dir, 'state.json')]) {
      assert.equal(fs.statSync(f).mode & 0o077, 0, `${f} must be owner-only`)
    }
    const known = fs.readFileSync(lab.knownHostsFile, 'utf8')
    assert.match(known, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${lab.old.sshPort},${lab.old.address.replace(/\./g, '\\.')} ssh-ed25519 `, 'm'))
    assert.match(known, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${lab.new.sshPort},`, 'm'))
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
    for (const role of ['old', 'new'] as const) {
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
    assert.ok(Date.now() - started < 60_000)
    const s = await labStatus()
    assert.equal(s.up, true)
    assert.equal(s.lab?.id, lab.id)
    assert.deepEqual(s.containers.map((c) => `${c.role}:${c.state}`), ['new:running', 'old:running'])
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
