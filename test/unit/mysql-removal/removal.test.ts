import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { classify, mysqlLike, parseDiscovery } from '../../../runbooks/lib/mysql-removal/discover.ts'
import { packagesToPurge, parseCpuSample, parseDumpCheck, parsePersistence, rogueActions } from '../../../runbooks/lib/mysql-removal/removal-plan.ts'

const row = (...f: string[]) => f.join('\t')
const discovery = [
  row('101', '1', 'mysql', '3.2', '5000', 'mariadbd', '/usr/sbin/mariadbd', 'a'.repeat(64), 'mariadb-server-core', 'systemd', '/sbin/init ', '127.0.0.1:3306', '-', '-', '/usr/sbin/mariadbd '),
  row('202', '1', 'root', '96.0', '300', 'mysql', '/tmp/mysql (deleted)', 'b'.repeat(64), '-', 'systemd', '/sbin/init ', '-', '-', '-', '/tmp/mysql '),
  row('303', '250', 'root', '0.0', '2', 'mysqld-helper', '/usr/bin/bash', 'c'.repeat(64), 'bash', 'cron', '/usr/sbin/CRON -f ', '-', '/usr/local/sbin/mysqld-helper', '-', '/bin/bash /usr/local/sbin/mysqld-helper '),
  row('404', '1', 'root', '0.0', '9', 'mysql', '/usr/bin/mariadb', 'd'.repeat(64), 'mariadb-client', 'bash', 'bash ', '-', '-', '-', 'mysql -e select 1'),
].join('\n')

test('discovery output is parsed and each process classified with its reasons', () => {
  const ps = parseDiscovery(discovery).filter(mysqlLike).map(classify)
  assert.deepEqual(ps.map((p) => [p.pid, p.verdict]), [[101, 'packaged'], [202, 'rogue'], [303, 'rogue'], [404, 'packaged']])
  const rogue = ps[1]!
  assert.equal(rogue.exe, '/tmp/mysql')
  assert.equal(rogue.exeDeleted, true)
  assert.ok(rogue.reasons.some((r) => /scratch directory/.test(r)))
  assert.ok(rogue.reasons.some((r) => /deleted/.test(r)))
  assert.ok(rogue.reasons.some((r) => /no Debian package/.test(r)))
  assert.ok(ps[2]!.reasons.some((r) => /mysqld-helper, which no Debian package owns/.test(r)), 'an interpreter runs an unpackaged script')
  assert.deepEqual(ps[0]!.listening, ['127.0.0.1:3306'])
  assert.equal(ps[0]!.parent?.comm, 'systemd')
})

test('the rogue\'s removal: timers, then services, then kill, then quarantine, then mask; packaged files untouched', () => {
  const ps = parseDiscovery(discovery).map(classify)
  const persistence = parsePersistence([
    'systemd-service\t/etc/systemd/system/mysqld-helper.service\t-\t',
    'systemd-timer\t/etc/systemd/system/mysqld-helper.timer\t-\t',
    'cron\t/etc/cron.d/mysql-maintenance\t-\t* * * * * root /usr/local/sbin/mysqld-helper',
    'file\t/usr/local/sbin/mysqld-helper\t-\t',
    'copy\t/var/lib/.mysql-sys/mysqld\t-\tsame sha256',
    'systemd-service\t/lib/systemd/system/mariadb.service\tmariadb-server\t',
  ].join('\n'))
  const actions = rogueActions(ps, persistence, '/q')
  const whats = actions.map((a) => a.what)
  assert.equal(whats[0], 'systemctl disable --now mysqld-helper.timer')
  assert.equal(whats[1], 'systemctl disable --now mysqld-helper.service')
  const firstKill = whats.findIndex((w) => w.startsWith('kill'))
  const firstMove = whats.findIndex((w) => w.startsWith('move'))
  assert.ok(firstKill > 1 && firstMove > firstKill, whats.join('\n'))
  assert.ok(whats.includes('move /etc/cron.d/mysql-maintenance into /q'))
  assert.ok(whats.includes('move /var/lib/.mysql-sys/mysqld into /q'))
  assert.ok(!whats.some((w) => w.includes('mariadb.service')), 'a packaged unit is not the rogue\'s')
  assert.ok(!whats.some((w) => w.includes('kill -KILL 101')), 'the packaged server is stopped by systemd, not killed')
  assert.match(whats.at(-1)!, /^systemctl daemon-reload; mask mysqld-helper.timer mysqld-helper.service$/)
})

test('dump checks: every table must match; packages to purge spare shared libraries; cpu sample maths', () => {
  const good = parseDumpCheck('dump /b/x.sql.gz 100 ' + 'e'.repeat(64) + '\ntable a.t 5 123 5 123\n')
  assert.equal(good.ok, true)
  const bad = parseDumpCheck('dump /b/x.sql.gz 100 ' + 'e'.repeat(64) + '\ntable a.t 5 123 5 123\ntable a.u 9 1 8 1\n')
  assert.equal(bad.ok, false)
  assert.deepEqual(bad.tables.filter((t) => !t.ok).map((t) => t.table), ['a.u'])
  assert.throws(() => parseDumpCheck('mariadb-dump: Got error 2002'), /did not complete/)
  assert.deepEqual(packagesToPurge(['mariadb-server', 'mariadb-server-core', 'mariadb-client', 'mariadb-common', 'libmariadb3', 'mysql-common', 'galera-4', 'postgresql-15']),
    ['galera-4', 'mariadb-client', 'mariadb-common', 'mariadb-server', 'mariadb-server-core', 'mysql-common'])
  assert.equal(parseCpuSample('500 100 5 2'), 100)
  assert.ok(Number.isNaN(parseCpuSample('')))
})

test('the host-side scripts pass bash -n and shellcheck', () => {
  for (const f of ['discover.sh', 'persistence.sh', 'dump-verify.sh', 'block-port.sh']) {
    const file = fileURLToPath(new URL(`../../../runbooks/lib/mysql-removal/${f}`, import.meta.url))
    execFileSync('bash', ['-n', file])
    try {
      execFileSync('shellcheck', [file], { stdio: 'pipe' })
    } catch (e) {
      const err = e as { code?: string; stdout?: Buffer }
      if (err.code === 'ENOENT') throw new Error('shellcheck is missing: apt-get install -y shellcheck (scripts/setup installs it)')
      throw new Error(`shellcheck ${f}:\n${err.stdout?.toString()}`)
    }
  }
})
