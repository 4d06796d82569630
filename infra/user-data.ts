// Renders the server's cloud-init user-data. cloud-init only does what must happen before anyone
// can log in (the deploy user, SSH, the pinned host key); everything else is host-setup.sh, which
// it writes and runs, so the local lab can apply exactly the same steps without cloud-init.
import { readFileSync } from 'node:fs'

export const HOST_SETUP_PATH = '/usr/local/sbin/ocean-host-setup'
export const HOST_SETUP_ENV_PATH = '/etc/ocean/host-setup.env'
/** Hetzner refuses user-data above 32 KiB. */
export const USER_DATA_LIMIT = 32 * 1024

export interface UserDataInputs {
  deployUser: string
  sshKeys: string[]
  hostKey: { privateKeyOpenssh: string; publicKey: string }
  hostSetupScript: string
  /** Values for host-setup.sh (OCEAN_* names without the prefix), e.g. { SWAP_MB: '2048' }. */
  setupEnv: Record<string, string | number | undefined>
}

/** The host set-up script as shipped in this repo. */
export function readHostSetupScript(): string {
  return readFileSync(new URL('./host-setup.sh', import.meta.url), 'utf8')
}

/** The env file host-setup.sh reads with --env-file: KEY=VALUE lines, taken literally. */
export function renderSetupEnv(env: UserDataInputs['setupEnv']): string {
  const lines = ['# Written by cloud-init from the Pulumi stack; read by ' + HOST_SETUP_PATH]
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue
    if (!/^[A-Z_]+$/.test(key)) throw new Error(`renderSetupEnv: bad key ${key}`)
    const text = String(value)
    // The script takes values literally up to the end of the line; a newline would inject a key.
    if (/[\r\n]/.test(text)) throw new Error(`renderSetupEnv: value of ${key} contains a newline`)
    lines.push(`OCEAN_${key}=${text}`)
  }
  return lines.join('\n') + '\n'
}

export function renderUserData(i: UserDataInputs): string {
  if (i.sshKeys.length === 0) throw new Error('renderUserData: no SSH key; nobody could log in')
  const config = {
    users: [
      {
        name: i.deployUser,
        groups: ['sudo'],
        shell: '/bin/bash',
        sudo: 'ALL=(ALL) NOPASSWD:ALL',
        lock_passwd: true,
        ssh_authorized_keys: i.sshKeys,
      },
    ],
    disable_root: true,
    ssh_pwauth: false,
    // Delete the image's host keys and install only the one the known_hosts output pins
    // (cloud-init generates no key types at all when ssh_keys is given), so a client is
    // never offered any other key.
    ssh_deletekeys: true,
    ssh_keys: {
      ed25519_private: i.hostKey.privateKeyOpenssh,
      ed25519_public: i.hostKey.publicKey,
    },
    write_files: [
      { path: HOST_SETUP_PATH, owner: 'root:root', permissions: '0755', content: i.hostSetupScript },
      { path: HOST_SETUP_ENV_PATH, owner: 'root:root', permissions: '0600', content: renderSetupEnv(i.setupEnv) },
    ],
    runcmd: [[HOST_SETUP_PATH, '--env-file', HOST_SETUP_ENV_PATH]],
  }
  // JSON is YAML, so no YAML library is needed and no value can break the document's structure.
  const text = `#cloud-config\n${JSON.stringify(config, null, 2)}\n`
  const size = Buffer.byteLength(text)
  if (size > USER_DATA_LIMIT) throw new Error(`renderUserData: ${size} bytes exceeds Hetzner's ${USER_DATA_LIMIT}-byte user-data limit`)
  return text
}
