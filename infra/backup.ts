// BackupTarget: where restic on the new server sends its backups. Either a Hetzner Storage Box
// this stack creates (SFTP, a snapshot plan, the host's backup key installed) or a repository
// that exists already (SFTP or S3). It lives beside OceanHost, not in it: the backups must
// outlive any server, so nothing about the server can replace the box.
import * as hcloud from '@pulumi/hcloud'
import * as pulumi from '@pulumi/pulumi'
import { STORAGE_BOX_SFTP_PORT, type BackupConfig } from './config.ts'

/** Where the restic repository sits on a created Storage Box. */
export const STORAGE_BOX_REPOSITORY_PATH = '/ocean'

/** The box's own snapshots (ZFS, read-only, kept by Hetzner): daily at 03:15 UTC, the last 7. A
 *  compromised host can delete restic snapshots, but not these. Every box type keeps at least 10. */
export const STORAGE_BOX_SNAPSHOT_PLAN = { maxSnapshots: 7, hour: 3, minute: 15 } as const

export interface BackupTargetArgs {
  /** Names the box and its labels, as OceanHost's resources. */
  hostName: string
  backup: BackupConfig
  /** ocean:storageBoxPassword (a secret); needed only to create a Storage Box. */
  storageBoxPassword?: pulumi.Input<string>
}

export class BackupTarget extends pulumi.ComponentResource {
  readonly storageBox?: hcloud.StorageBox
  /** restic's repository: `sftp:USER@HOST:/PATH` or `s3:https://...`. Not secret. */
  readonly repository: pulumi.Output<string>
  /** SFTP repositories: the port ssh connects to (the repository string cannot carry it). */
  readonly sftpPort?: number
  /** SFTP repositories given with a host key: the known_hosts line(s). Public. */
  readonly knownHosts?: string

  constructor(name: string, args: BackupTargetArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ocean:infra:BackupTarget', name, {}, opts)
    const { backup } = args

    if (backup.storageBox) {
      const box = backup.storageBox
      if (args.storageBoxPassword === undefined) throw new Error('BackupTarget: a Storage Box needs its password')
      this.storageBox = new hcloud.StorageBox(`${name}-storage-box`, {
        name: `${args.hostName}-backup`,
        storageBoxType: box.storageBoxType,
        location: box.location,
        password: pulumi.secret(args.storageBoxPassword),
        sshKeys: [box.sshPublicKey],
        // SSH only (SFTP for restic); the ZFS folder lets a restore read a snapshot's copy.
        accessSettings: {
          sshEnabled: true,
          reachableExternally: box.reachableExternally,
          sambaEnabled: false,
          webdavEnabled: false,
          zfsEnabled: true,
        },
        snapshotPlan: { ...STORAGE_BOX_SNAPSHOT_PLAN },
        deleteProtection: true,
        labels: { app: 'ocean', 'ocean-host': args.hostName },
      }, {
        parent: this,
        // Hetzner cannot change a box's keys, so the provider would replace the box, and the
        // backups with it. A new key goes onto the box by hand (`install-ssh-key` on port 23).
        ignoreChanges: ['sshKeys'],
      })
      this.repository = pulumi.interpolate`sftp:${this.storageBox.username}@${this.storageBox.server}:${STORAGE_BOX_REPOSITORY_PATH}`
      this.sftpPort = STORAGE_BOX_SFTP_PORT
    } else {
      const existing = backup.existing
      this.repository = pulumi.output(existing.repository)
      if (existing.sftp) {
        this.sftpPort = existing.sftp.port
        if (existing.sftp.knownHosts !== undefined) this.knownHosts = existing.sftp.knownHosts
      }
    }

    this.registerOutputs({ repository: this.repository })
  }
}
