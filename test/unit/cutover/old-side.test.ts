// The commands the cutover and rollback run on the old host, as argv (no shell in between but the
// one `sh -c` script of the backup, whose paths are quoted).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { advanceSequencesArgv, backupArgv, captureChangesArgv, dbName, dropCaptureArgv, freezeDbArgv, unfreezeDbArgv, unitArgv } from '../../../runbooks/lib/cutover/old-side.ts'

describe('old side commands', () => {
  it('takes the database name from the URL and refuses names that are not plain identifiers', () => {
    assert.equal(dbName('postgres://ocean@127.0.0.1:5432/ocean'), 'ocean')
    assert.throws(() => dbName('postgres://u@h/a;drop'), /plain identifier/)
  })

  it('freezes and unfreezes from the maintenance database (a session in the frozen one is read-only too)', () => {
    const f = freezeDbArgv({ database: 'ocean' })
    assert.deepEqual(f.slice(0, 5), ['runuser', '-u', 'postgres', '--', 'psql'])
    assert.equal(f[f.indexOf('-d') + 1], 'postgres')
    assert.match(f.at(-1)!, /^ALTER DATABASE "ocean" SET default_transaction_read_only = on; SELECT count\(pg_terminate_backend\(pid\)\) FROM pg_stat_activity WHERE datname = 'ocean'/)
    const u = unfreezeDbArgv({ database: 'ocean' })
    assert.equal(u[u.indexOf('-d') + 1], 'postgres')
    assert.match(u.at(-1)!, /RESET default_transaction_read_only/)
    assert.ok(f.includes('ON_ERROR_STOP=1'))
    // The migration engine's sessions only read; a warm final sync waits on them for this freeze.
    assert.match(f.at(-1)!, /AND application_name IS DISTINCT FROM 'ocean-ops migrate-data'$/)
  })

  it('installs the change log in the old database itself, readable by the engine\'s role, and removes it whole', () => {
    const c = captureChangesArgv({ database: 'ocean', user: 'mig"rator' })
    assert.equal(c[c.indexOf('-d') + 1], 'ocean')
    assert.match(c.at(-1)!, /GRANT USAGE ON SCHEMA ocean_ops TO "mig""rator";\nGRANT SELECT ON ocean_ops.changes, ocean_ops.capture TO "mig""rator";/)
    assert.match(c.at(-1)!, /REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT/)
    assert.throws(() => captureChangesArgv({ database: 'ocean' }), /names no user/)
    const d = dropCaptureArgv({ database: 'ocean' }).at(-1)!
    assert.match(d, /DROP TRIGGER %I ON %I\.%I/)
    assert.match(d, /DROP SCHEMA IF EXISTS ocean_ops CASCADE;$/)
  })

  it('writes the backup whole or not at all, owner-only, and lists it', () => {
    const [sh, c, script] = backupArgv({ database: 'ocean' }, "/var/backups/ocean-ops/ocean it's.dump")
    assert.deepEqual([sh, c], ['sh', '-c'])
    assert.match(script!, /pg_dump -Fc -d ocean > '\/var\/backups\/ocean-ops\/ocean it'\\''s\.dump\.part'/)
    assert.match(script!, /mv '.*\.part' '.*\.dump'/)
    assert.match(script!, /pg_restore --list .* \| grep -c ' TABLE DATA '/)
    assert.ok(script!.indexOf('chmod 0600') < script!.indexOf('mv '))
  })

  it('moves every owned sequence past its column\'s largest value, never backwards', () => {
    const sql = advanceSequencesArgv({ database: 'ocean' }).at(-1)!
    assert.match(sql, /setval\(format\('%I\.%I', r\.sch, r\.seq\), greatest\(m, \(SELECT last_value/)
    assert.match(sql, /deptype IN \('a', 'i'\)/)
    assert.deepEqual(unitArgv('stop', 'ocean-legacy-api'), ['systemctl', 'stop', 'ocean-legacy-api'])
  })
})

describe('cutover --prepare: DNS verdict', () => {
  it('is ok only when the name resolves to the floating IP alone, and says how long to wait otherwise', async () => {
    const { dnsVerdict } = await import('../../../runbooks/prepare.ts')
    assert.deepEqual(dnsVerdict('ocean.example.org', '198.51.100.7', [{ address: '198.51.100.7', ttl: 300 }]), { ok: true })
    const old = dnsVerdict('ocean.example.org', '198.51.100.7', [{ address: '203.0.113.20', ttl: 3600 }])
    assert.equal(old.ok, false)
    assert.match(old.warning!, /not the floating IP 198\.51\.100\.7.*3600 s/)
    const both = dnsVerdict('ocean.example.org', '198.51.100.7', [{ address: '198.51.100.7', ttl: 60 }, { address: '203.0.113.20', ttl: 600 }])
    assert.match(both.warning!, /drop the others, then wait 600 s/)
    assert.match(dnsVerdict('x.example', '198.51.100.7', []).warning!, /resolves to nothing/)
  })
})
