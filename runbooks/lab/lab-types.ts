// What a running lab is, as every lab module and the runbooks see it (types only, so the lab's
// modules depend on this file and not on lab.ts, which depends on them).
export interface LabHost {
  containerId: string
  /** IP on the lab's own docker network. */
  address: string
  /** sshd published on 127.0.0.1. */
  sshPort: number
  /** 'ops': non-root, passwordless sudo, key auth only. */
  user: string
}

export interface Lab {
  id: string
  /** .lab/ (gitignored) holding keys, known_hosts, state.json. */
  dir: string
  networkId: string
  networkName: string
  old: LabHost
  new: LabHost
  /**
   * The Storage Box stand-in: user backup may use SFTP only (no shell, no forwarding) with
   * `backupKey`, and keeps repositories under /srv/backup; 'ops' logs in as on the other hosts.
   */
  storage: LabHost
  /** ed25519 private key (0600) accepted for 'ops' on every host. */
  identityFile: string
  /** The client key (private key file 0600, `ssh-ed25519 AAAA...`) accepted for user backup on the storage host, and only there. */
  backupKey: { identityFile: string; publicKey: string }
  /** `[127.0.0.1]:<sshPort>` (and `<address>` on port 22) of each host, keys made here beforehand. */
  knownHostsFile: string
  /** The storage host's line alone, `<address> ssh-ed25519 AAAA...` (port 22; 0600): what backups on the new host pin. */
  storageKnownHostsFile: string
  /** Reachable only inside the old host (bound to 127.0.0.1 there): runbooks tunnel over SSH. */
  oldDb: {
    pgPort: 5432
    pgUser: string
    pgPassword: string
    pgDatabase: string
    mysqlPort: 3306
    mysqlUser: string
    mysqlPassword: string
    mysqlDatabase: string
  }
}
