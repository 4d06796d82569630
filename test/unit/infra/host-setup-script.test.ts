// infra/host-setup.sh without running its steps: syntax, shellcheck, the documented parameters,
// and the config it writes. (The lab runs it for real inside a Debian container.)
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const SCRIPT = fileURLToPath(new URL('../../../infra/host-setup.sh', import.meta.url))
const text = readFileSync(SCRIPT, 'utf8')
const dir = mkdtempSync(join(tmpdir(), 'ocean-host-setup-'))
chmodSync(dir, 0o755)
after(() => rmSync(dir, { recursive: true, force: true }))

/** Runs the script where it cannot change anything: as nobody, it stops at the root check at the
 *  latest, so only the argument and parameter handling before it is exercised. */
function runUnprivileged(args: string[], env: Record<string, string> = {}) {
  const asNobody = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] : []
  const cmd = [...asNobody, 'bash', SCRIPT, ...args]
  const r = spawnSync(cmd[0] as string, cmd.slice(1), { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env } })
  return { status: r.status, out: `${r.stdout}${r.stderr}` }
}

function heredoc(tag: string): string {
  const m = new RegExp(`<<'${tag}'[^\\n]*\\n([\\s\\S]*?)\\n${tag}\\n`).exec(text)
  assert.ok(m?.[1], `no <<'${tag}' heredoc in the script`)
  return m[1]
}

describe('host-setup.sh', () => {
  it('passes bash -n', () => {
    const r = spawnSync('bash', ['-n', SCRIPT], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
  })

  it('passes shellcheck (every severity)', () => {
    const bin = ['/usr/bin/shellcheck', '/usr/local/bin/shellcheck'].find((p) => existsSync(p))
    if (!bin) assert.fail('shellcheck is missing: install it with `apt-get install -y shellcheck` (scripts/setup does); this check is never skipped')
    const r = spawnSync(bin, ['--shell=bash', '--severity=style', SCRIPT], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stdout + r.stderr)
  })

  it('is strict from the first command', () => {
    assert.match(text, /^#!\/usr\/bin\/env bash\n(#[^\n]*\n)+set -euo pipefail\n/)
  })

  it('documents every OCEAN_* parameter it reads in its --help', () => {
    const r = runUnprivileged(['--help'])
    assert.equal(r.status, 0, r.out)
    const used = new Set(text.replace(/^#.*$/gm, '').match(/OCEAN_[A-Z_]+[A-Z]/g))
    used.delete('OCEAN_') // the env-file key pattern
    assert.ok(used.size >= 8)
    for (const name of used) assert.match(r.out, new RegExp(`\\b${name}\\b`), `${name} is not documented in --help`)
  })

  it('reads parameters from --env-file, the environment winning, and validates them before any step', () => {
    const env = join(dir, 'setup.env')
    writeFileSync(env, '# comment\nOCEAN_DEPLOY_USER=ocean\nOCEAN_SWAP_MB=lots\n', { mode: 0o644 })
    assert.match(runUnprivileged(['--env-file', env]).out, /OCEAN_SWAP_MB must be a number of MB/)
    const envWins = runUnprivileged(['--env-file', env], { OCEAN_SWAP_MB: '512' })
    assert.match(envWins.out, /run as root/, 'with valid parameters it gets as far as the root check')
    writeFileSync(env, 'PATH=/tmp/evil\n', { mode: 0o644 })
    assert.match(runUnprivileged(['--env-file', env]).out, /bad line in .*PATH=\/tmp\/evil/)
    assert.match(runUnprivileged([], { OCEAN_FLOATING_IP: '1.2.3' }).out, /OCEAN_FLOATING_IP must be an IPv4 address/)
    assert.match(runUnprivileged([], { OCEAN_DEPLOY_USER: 'root' }).out, /bad OCEAN_DEPLOY_USER/)
    assert.match(runUnprivileged(['--bogus']).out, /unknown argument: --bogus/)
  })

  it('rotates Docker logs through daemon.json (valid JSON)', () => {
    const daemon = JSON.parse(heredoc('JSON')) as { 'log-driver': string; 'log-opts': Record<string, string> }
    assert.equal(daemon['log-driver'], 'json-file')
    assert.deepEqual(Object.keys(daemon['log-opts']).sort(), ['max-file', 'max-size'])
  })

  it('sets the sysctls Redis wants, in /etc/sysctl.d', () => {
    assert.match(text, /write_file \/etc\/sysctl\.d\/60-ocean\.conf/)
    const conf = heredoc('CONF')
    assert.match(conf, /^vm\.overcommit_memory = 1$/m)
    assert.match(conf, /^net\.core\.somaxconn = 1024$/m)
  })

  it('hardens sshd through a drop-in that is read first, and validates it with sshd -t', () => {
    assert.match(text, /\/etc\/ssh\/sshd_config\.d\/00-ocean-hardening\.conf/)
    for (const line of ['PasswordAuthentication no', 'PermitRootLogin no', 'KbdInteractiveAuthentication no']) assert.ok(text.includes(`'${line}'`), line)
    assert.match(text, /if ! sshd -t; then/)
  })

  it('keeps unattended upgrades to security updates, and runs fail2ban on the journal', () => {
    assert.match(heredoc('APT'), /APT::Periodic::Unattended-Upgrade "1";/)
    assert.match(text, /#clear Unattended-Upgrade::Origins-Pattern;\nUnattended-Upgrade::Origins-Pattern \{\n\s+"origin=Debian,codename=\$\{distro_codename\},label=Debian-Security";/)
    assert.match(heredoc('INI'), /\[sshd\]\nenabled = true\nbackend = systemd/)
  })

  it('mounts the volume by its Hetzner by-id device and never formats a device that has a file system', () => {
    assert.match(text, /\/dev\/disk\/by-id\/scsi-0HC_Volume_\$\{OCEAN_VOLUME_ID\}/)
    assert.match(text, /fstype=\$\(blkid -p -s TYPE -o value "\$VOLUME_DEVICE"[^\n]*\n\s+if \[ -z "\$fstype" \]; then/)
  })
})
