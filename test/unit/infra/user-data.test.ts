// The cloud-init user-data, checked by the real `cloud-init schema` (Debian's cloud-init with
// python3-jsonschema). Without jsonschema cloud-init skips validation and still says "valid",
// so the tests also prove that a broken config of the same shape is rejected.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateHostKey } from '../../../infra/host-key.ts'
import { HOST_SETUP_ENV_PATH, HOST_SETUP_PATH, USER_DATA_LIMIT, readHostSetupScript, renderSetupEnv, renderUserData, type UserDataInputs } from '../../../infra/user-data.ts'

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGf9cmZ+QrmUF761QGGuRnnJWwywUby9nyQnQKxl3w7E alice@laptop'
const INSTALL = 'apt-get install -y cloud-init python3-jsonschema (or run `bash scripts/setup`)'
const dir = mkdtempSync(join(tmpdir(), 'ocean-user-data-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function inputs(over: Partial<UserDataInputs> = {}): UserDataInputs {
  return {
    deployUser: 'ocean',
    sshKeys: [KEY],
    hostKey: generateHostKey('root@ocean-prod'),
    hostSetupScript: readHostSetupScript(),
    setupEnv: { DEPLOY_USER: 'ocean', SWAP_MB: 2048, VOLUME_ID: '100234', FLOATING_IP: '198.51.100.7', DATA_DIR: '/data' },
    ...over,
  }
}

let cloudInit = ''
let schemaArgs: (file: string) => string[] = () => []

function schema(text: string, name: string) {
  const file = join(dir, name)
  writeFileSync(file, text)
  const r = spawnSync(cloudInit, schemaArgs(file), { encoding: 'utf8' })
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}

before(() => {
  cloudInit = ['/usr/bin/cloud-init', '/usr/local/bin/cloud-init'].find((p) => existsSync(p)) ?? ''
  if (!cloudInit) assert.fail(`cloud-init is missing: ${INSTALL}`)
  const py = spawnSync('python3', ['-c', 'import jsonschema'], { encoding: 'utf8' })
  if (py.status !== 0) assert.fail(`python3-jsonschema is missing, so cloud-init would skip validation: ${INSTALL}`)
  // Debian 12 ships cloud-init 22.4: `cloud-init schema --config-file F`. Later versions keep
  // --config-file (and add `-t`); check the help rather than assume.
  const help = execFileSync(cloudInit, ['schema', '--help'], { encoding: 'utf8' })
  assert.match(help, /--config-file/, 'this cloud-init has no `schema --config-file`')
  schemaArgs = (file) => ['schema', '--config-file', file]
})

describe('user-data', () => {
  it('passes the real cloud-init schema validation', () => {
    const r = schema(renderUserData(inputs({ sshKeys: [KEY, KEY.replace('alice', 'bob')] })), 'valid.yaml')
    assert.equal(r.status, 0, r.output)
    assert.match(r.output, /Valid (cloud-config|schema)/)
    assert.doesNotMatch(r.output, /deprecat/i)
  })

  it('is really validated: the same document with a wrong type is rejected', () => {
    const text = renderUserData(inputs())
    const body = JSON.parse(text.replace(/^#cloud-config\n/, '')) as Record<string, unknown>
    const r = schema(`#cloud-config\n${JSON.stringify({ ...body, users: 5 }, null, 2)}\n`, 'invalid.yaml')
    assert.notEqual(r.status, 0, `cloud-init accepted an invalid config, so it is not validating:\n${r.output}`)
    assert.match(r.output, /schema errors: users: 5 is not of type/)
  })

  it('says everything the issue asks: deploy user with sudo and keys, no passwords, no root, pinned host key', () => {
    const i = inputs()
    const body = JSON.parse(renderUserData(i).replace(/^#cloud-config\n/, '')) as Record<string, unknown>
    assert.deepEqual(body.users, [{ name: 'ocean', groups: ['sudo'], shell: '/bin/bash', sudo: 'ALL=(ALL) NOPASSWD:ALL', lock_passwd: true, ssh_authorized_keys: [KEY] }])
    assert.equal(body.disable_root, true)
    assert.equal(body.ssh_pwauth, false)
    assert.equal(body.ssh_deletekeys, true)
    assert.deepEqual(body.ssh_keys, { ed25519_private: i.hostKey.privateKeyOpenssh, ed25519_public: i.hostKey.publicKey })
    assert.deepEqual(body.runcmd, [[HOST_SETUP_PATH, '--env-file', HOST_SETUP_ENV_PATH]])
  })

  it('carries host-setup.sh and its env file byte for byte through a YAML parser', () => {
    const file = join(dir, 'roundtrip.yaml')
    writeFileSync(file, renderUserData(inputs()))
    // PyYAML is what cloud-init parses user-data with.
    const parsed = JSON.parse(execFileSync('python3', ['-c', 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', file], { encoding: 'utf8' })) as {
      write_files: { path: string; permissions: string; content: string }[]
    }
    const [script, env] = parsed.write_files
    assert.equal(script?.path, HOST_SETUP_PATH)
    assert.equal(script?.permissions, '0755')
    assert.equal(script?.content, readFileSync(new URL('../../../infra/host-setup.sh', import.meta.url), 'utf8'))
    assert.equal(env?.path, HOST_SETUP_ENV_PATH)
    assert.equal(env?.permissions, '0600')
    assert.equal(env?.content, renderSetupEnv(inputs().setupEnv))
  })

  it('stays under Hetzner\'s 32 KiB user-data limit, and refuses to exceed it', () => {
    assert.ok(Buffer.byteLength(renderUserData(inputs())) < USER_DATA_LIMIT / 2, 'leave room for the script to grow')
    assert.throws(() => renderUserData(inputs({ hostSetupScript: 'x'.repeat(USER_DATA_LIMIT) })), /exceeds Hetzner's 32768-byte user-data limit/)
  })

  it('refuses to render without an admin key', () => {
    assert.throws(() => renderUserData(inputs({ sshKeys: [] })), /no SSH key/)
  })
})

describe('host-setup env file', () => {
  it('is KEY=VALUE lines with the OCEAN_ prefix, skipping empty values', () => {
    assert.equal(renderSetupEnv({ DEPLOY_USER: 'ocean', SWAP_MB: 0, FLOATING_IP: undefined, VOLUME_ID: '' }),
      `# Written by cloud-init from the Pulumi stack; read by ${HOST_SETUP_PATH}\nOCEAN_DEPLOY_USER=ocean\nOCEAN_SWAP_MB=0\n`)
  })

  it('refuses a value that could inject another line', () => {
    assert.throws(() => renderSetupEnv({ DEPLOY_USER: 'ocean\nOCEAN_SWAP_MB=1' }), /contains a newline/)
    assert.throws(() => renderSetupEnv({ 'bad-key': 'x' }), /bad key/)
  })
})
