// `ocean-ops inventory --from-pulumi` as users run it: a child process of the real launcher,
// reading stdin, a file, or a (fake) pulumi CLI, and writing a 0600 inventory file.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { KNOWN, stackOutput } from './stack-output-fixture.ts'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const BIN = join(ROOT, 'runbooks/bin/ocean-ops.js')
const dir = mkdtempSync(join(tmpdir(), 'ocean-inventory-cmd-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function ocean(args: string[], opts: { input?: string; path?: string } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    input: opts.input ?? '',
    encoding: 'utf8',
    env: { ...process.env, PATH: opts.path ?? '/usr/bin:/bin' },
    timeout: 60_000,
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

const mode = (file: string) => statSync(file).mode & 0o777
const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>

describe('ocean-ops inventory --from-pulumi', () => {
  it('writes the inventory from stdin, readable by its owner only', () => {
    const out = join(dir, 'inventory.json')
    const r = ocean(['inventory', '--from-pulumi', '--stdin', '--out', out], { input: JSON.stringify(stackOutput()) })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^wrote .*inventory\.json: new host 203\.0\.113\.10, floating IP 198\.51\.100\.7\n$/)
    assert.equal(mode(out), 0o600)
    const inv = read(out)
    assert.deepEqual(inv.newHost, { address: '203.0.113.10', ipv4: '203.0.113.10', ipv6: '2001:db8:1::1', user: 'ocean', port: 22, knownHosts: KNOWN, serverId: 1005, volumeId: 1002 })
    assert.deepEqual(inv.floatingIp, { id: 1003, address: '198.51.100.7' })
    assert.equal(inv.oceanPort as unknown, 8030)
    assert.equal(inv.schemaVersion as unknown, 1)
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file is left behind')
  })

  it('updates an existing inventory in place, keeping what Pulumi does not own, and fixes its mode', () => {
    const out = join(dir, 'existing.json')
    writeFileSync(out, JSON.stringify({ schemaVersion: 1, newHost: { address: '192.0.2.1', user: 'ocean', identityFile: 'id' }, oldHost: { address: '192.0.2.50', user: 'root' } }), { mode: 0o644 })
    const r = ocean(['inventory', '--from-pulumi', '--stdin', '--out', out], { input: JSON.stringify(stackOutput()) })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^updated /)
    assert.equal(mode(out), 0o600)
    const inv = read(out)
    assert.deepEqual(inv.oldHost, { address: '192.0.2.50', user: 'root' })
    assert.equal(inv.newHost?.address, '203.0.113.10')
    assert.equal(inv.newHost?.identityFile, 'id')
  })

  it('reads the JSON from a file with --input', () => {
    const input = join(dir, 'outputs.json')
    writeFileSync(input, JSON.stringify(stackOutput()))
    const out = join(dir, 'from-file.json')
    const r = ocean(['inventory', '--from-pulumi', '--input', input, '--out', out])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(read(out).newHost?.user, 'ocean')
  })

  it('runs `pulumi stack output --json` (no --show-secrets) in the project directory for the given stack', () => {
    const fakeBin = join(dir, 'fake-bin')
    const argsFile = join(dir, 'pulumi-args')
    const outputFile = join(dir, 'pulumi-output.json')
    writeFileSync(outputFile, JSON.stringify(stackOutput()))
    mkdirSync(fakeBin)
    writeFileSync(join(fakeBin, 'pulumi'), `#!/bin/sh\nprintf '%s|' "$PWD" "$@" > '${argsFile}'\ncat '${outputFile}'\n`)
    chmodSync(join(fakeBin, 'pulumi'), 0o755)
    const out = join(dir, 'from-cli.json')
    const r = ocean(['inventory', '--from-pulumi', '--stack', 'prod', '--out', out], { path: `${fakeBin}:/usr/bin:/bin` })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(readFileSync(argsFile, 'utf8'), `${ROOT.replace(/\/$/, '')}|stack|output|--json|--stack|prod|`)
    assert.deepEqual(read(out).source, { kind: 'pulumi', stack: 'prod' })
  })

  it('says how to get the pulumi CLI when it is missing, and writes nothing', () => {
    const out = join(dir, 'never.json')
    const r = ocean(['inventory', '--from-pulumi', '--out', out], { path: '/usr/bin:/bin' })
    assert.equal(r.status, 1)
    assert.match(r.stderr, /OPS_E_PULUMI: the pulumi CLI is not installed .*https:\/\/www\.pulumi\.com\/docs\/install\//)
    assert.equal(existsSync(out), false)
  })

  it('refuses bad input with a stable code and leaves the old file untouched', () => {
    const out = join(dir, 'keep.json')
    writeFileSync(out, '{"schemaVersion":1}', { mode: 0o600 })
    const notJson = ocean(['inventory', '--from-pulumi', '--stdin', '--out', out], { input: 'Current stack is prod' })
    assert.equal(notJson.status, 1)
    assert.match(notJson.stderr, /OPS_E_CONFIG: the stack output is not JSON/)
    const noInventory = ocean(['inventory', '--from-pulumi', '--stdin', '--out', out], { input: '{"serverId": 1}' })
    assert.match(noInventory.stderr, /OPS_E_CONFIG: pulumi stack output has no "inventory" output/)
    assert.equal(readFileSync(out, 'utf8'), '{"schemaVersion":1}')
  })

  it('needs a source', () => {
    const r = ocean(['inventory', '--stdin'], { input: '{}' })
    assert.equal(r.status, 1)
    assert.match(r.stderr, /OPS_E_USAGE: say where the inventory comes from: --from-pulumi/)
  })
})
