import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { atomicWriteArgv, redact, shellLine, shellQuote, withSudo } from '../../../runbooks/lib/host/commands.ts'
import { LocalHost } from '../../../runbooks/lib/host/local-host.ts'

test('shell quoting: plain words stay plain, everything else is quoted so sh sees one word', async () => {
  assert.equal(shellQuote('docker'), 'docker')
  assert.equal(shellQuote(''), "''")
  assert.equal(shellLine(['echo', "a b'c"]), `echo 'a b'\\''c'`)
  const hostile = ["it's", '$(id)', '`id`', 'a;b', 'x\ny', '\u{1F30A}', '*', '--', '-rf /']
  const r = await new LocalHost().exec(['dash', '-c', `printf '%s\\0' ${hostile.map(shellQuote).join(' ')}`])
  assert.deepEqual(r.stdout.split('\0').slice(0, -1), hostile)
})

test('sudo is a non-interactive prefix, and only when asked', () => {
  assert.deepEqual(withSudo(['systemctl', 'stop', 'mariadb'], true), ['sudo', '-n', '--', 'systemctl', 'stop', 'mariadb'])
  assert.deepEqual(withSudo(['id'], false), ['id'])
})

test('atomic write: mode applied, target replaced whole, no temp file left', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-'))
  const target = path.join(dir, 'a file with spaces')
  fs.writeFileSync(target, 'old', { mode: 0o644 })
  await new LocalHost().exec(atomicWriteArgv(target, 0o600), { stdin: 'new contents' })
  assert.equal(fs.readFileSync(target, 'utf8'), 'new contents')
  assert.equal(fs.statSync(target).mode & 0o777, 0o600)
  assert.deepEqual(fs.readdirSync(dir), ['a file with spaces'])
  fs.rmSync(dir, { recursive: true })
})

test('redaction hides URL passwords and listed secrets', () => {
  assert.equal(redact('postgres://ocean:s3cr3t@db:5432/x'), 'postgres://ocean:***@db:5432/x')
  assert.equal(redact('token=abcdefgh', ['abcdefgh']), 'token=***')
})
