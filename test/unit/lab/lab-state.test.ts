// The lab's state file: the old databases' passwords live in owner-only secret files that
// state.json names, never in state.json itself; a state.json of the earlier format is moved over.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { readState, removeLabFiles, writeState, type LabState } from '../../../runbooks/lab/lab-state.ts'

function sampleState(dir: string): LabState {
  const host = { container: 'c', address: '10.0.0.2', sshPort: 2222, user: 'ops' }
  return {
    version: 1,
    lab: {
      id: 'abcd1234',
      dir,
      network: 'ocean-lab-abcd1234',
      old: host,
      new: host,
      identityFile: path.join(dir, 'id_ed25519'),
      knownHostsFile: path.join(dir, 'known_hosts'),
      oldDb: { pgPort: 5432, pgUser: 'ocean', pgPassword: 'pg-s3cret-0123', pgDatabase: 'ocean', mysqlPort: 3306, mysqlUser: 'legacy', mysqlPassword: 'my-s3cret-4567', mysqlDatabase: 'legacy' },
    },
    volumes: [],
    images: { old: 'o', new: 'n' },
    seed: { users: 1, telemetryRows: 1 },
    hostSetupHash: 'h',
    rogueVariant: 'on-disk',
    createdAt: '2026-12-05T00:00:00.000Z',
  } as unknown as LabState
}

const mode = (p: string) => fs.statSync(p).mode & 0o777

test('lab state: passwords go to secrets/ (0700, files 0600), state.json only names them, and they read back', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-state-'))
  try {
    const state = sampleState(dir)
    writeState(state)
    const text = fs.readFileSync(path.join(dir, 'state.json'), 'utf8')
    assert.ok(!text.includes('s3cret'), 'no password in state.json')
    assert.equal(mode(path.join(dir, 'state.json')), 0o600)
    assert.equal(mode(path.join(dir, 'secrets')), 0o700)
    for (const f of fs.readdirSync(path.join(dir, 'secrets'))) assert.equal(mode(path.join(dir, 'secrets', f)), 0o600)
    assert.deepEqual(readState(dir), state)
    removeLabFiles(dir)
    assert.deepEqual(fs.readdirSync(dir), ['secrets'])
    assert.deepEqual(fs.readdirSync(path.join(dir, 'secrets')), [])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('lab state: the earlier format (passwords inline) is moved to secret files when first read', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-state-'))
  try {
    const state = sampleState(dir)
    fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state), { mode: 0o644 })
    assert.deepEqual(readState(dir), state)
    const text = fs.readFileSync(path.join(dir, 'state.json'), 'utf8')
    assert.ok(!text.includes('s3cret'), 'the passwords left state.json')
    assert.equal(mode(path.join(dir, 'state.json')), 0o600)
    assert.deepEqual(readState(dir), state, 'and read back from their files')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('lab state: a secret reference outside secrets/ is refused', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-state-'))
  try {
    writeState(sampleState(dir))
    const file = path.join(dir, 'state.json')
    const stored = JSON.parse(fs.readFileSync(file, 'utf8'))
    stored.lab.oldDb.pgPassword = { file: '../../etc/passwd' }
    fs.writeFileSync(file, JSON.stringify(stored))
    assert.throws(() => readState(dir), /must name a file in/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
