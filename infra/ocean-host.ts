// OceanHost: the new Hetzner server and everything that belongs to it (SSH keys, host key,
// firewall, data volume, floating IP, optional private network), as one component whose
// children are parented to it, so `pulumi stack` shows them as one unit.
import { createHash } from 'node:crypto'
import * as hcloud from '@pulumi/hcloud'
import * as pulumi from '@pulumi/pulumi'
import type { OceanConfig } from './config.ts'
import { firewallRules } from './firewall-rules.ts'
import { HostKey, knownHostsLine } from './host-key.ts'
import { renderUserData } from './user-data.ts'

export interface OceanHostArgs {
  config: OceanConfig
  /** The text of infra/host-setup.sh, which cloud-init writes and runs. */
  hostSetupScript: string
}

export class OceanHost extends pulumi.ComponentResource {
  readonly server: hcloud.Server
  readonly firewall: hcloud.Firewall
  readonly sshKeys: hcloud.SshKey[]
  readonly hostKey: HostKey
  readonly volume: hcloud.Volume
  readonly volumeAttachment: hcloud.VolumeAttachment
  readonly floatingIp: hcloud.FloatingIp
  readonly floatingIpAssignment: hcloud.FloatingIpAssignment
  readonly network?: hcloud.Network
  readonly serverNetwork?: hcloud.ServerNetwork
  readonly oldServerNetwork?: hcloud.ServerNetwork
  /** `<floating-ip>,<ipv4>,<ipv6> ssh-ed25519 AAAA...`: not secret (a public key). */
  readonly knownHosts: pulumi.Output<string>

  constructor(name: string, args: OceanHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ocean:infra:OceanHost', name, {}, opts)
    const cfg = args.config
    const child = { parent: this }
    const labels = { app: 'ocean', 'ocean-host': cfg.name }
    const numericId = (r: pulumi.CustomResource) => r.id.apply((id) => Number(id))

    // Named by fingerprint, not position, so reordering ocean:sshKeys changes nothing.
    this.sshKeys = cfg.sshKeys.map((key) => {
      const fp = createHash('sha256').update(key.split(/\s+/)[1] ?? key).digest('hex').slice(0, 12)
      return new hcloud.SshKey(`${name}-ssh-${fp}`, { name: `${cfg.name}-${fp}`, publicKey: key, labels }, child)
    })

    this.hostKey = new HostKey(`${name}-host-key`, { comment: `root@${cfg.name}` }, child)

    this.firewall = new hcloud.Firewall(`${name}-firewall`, {
      name: cfg.name,
      labels,
      rules: firewallRules(cfg),
    }, child)

    // Created apart from the server so its id (the device name) can go into the user-data, and
    // so replacing the server never touches the data. Delete protection is on for every stack.
    this.volume = new hcloud.Volume(`${name}-volume`, {
      name: `${cfg.name}-data`,
      size: cfg.volumeSizeGb,
      location: cfg.location,
      format: 'ext4',
      deleteProtection: true,
      labels,
    }, child)

    this.floatingIp = new hcloud.FloatingIp(`${name}-floating-ip`, {
      name: cfg.name,
      type: 'ipv4',
      homeLocation: cfg.location,
      description: 'Ocean: the address clients use; cutover and rollback move it between servers',
      deleteProtection: cfg.production,
      labels,
    }, child)

    const userData = pulumi
      .all([this.hostKey.privateKeyOpenssh, this.hostKey.publicKey, this.volume.id, this.floatingIp.ipAddress])
      .apply(([privateKeyOpenssh, publicKey, volumeId, floatingIp]) => renderUserData({
        deployUser: cfg.deployUser,
        sshKeys: cfg.sshKeys,
        hostKey: { privateKeyOpenssh, publicKey },
        hostSetupScript: args.hostSetupScript,
        setupEnv: { DEPLOY_USER: cfg.deployUser, SWAP_MB: cfg.swapSizeMb, VOLUME_ID: volumeId, FLOATING_IP: floatingIp, DATA_DIR: '/data' },
      }))

    this.server = new hcloud.Server(`${name}-server`, {
      name: cfg.name,
      serverType: cfg.serverType,
      location: cfg.location,
      image: cfg.image,
      backups: true,
      // Hetzner requires both flags to be equal; a production server can be neither deleted
      // nor rebuilt (wiped) until someone turns them off on purpose.
      deleteProtection: cfg.production,
      rebuildProtection: cfg.production,
      firewallIds: [numericId(this.firewall)],
      sshKeys: this.sshKeys.map((k) => k.id),
      // The user-data carries the host private key: keep it secret in state and in previews.
      userData: pulumi.secret(userData),
      publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }],
      labels,
    }, {
      ...child,
      // Both only act on the first boot and a change would replace the server. A new script
      // version is applied by running host-setup.sh again; a new admin key goes in through the
      // runbooks. Rebuild on purpose with `pulumi up --replace <server urn>`.
      ignoreChanges: ['userData', 'sshKeys'],
    })
    const serverId = numericId(this.server)

    // automount off: host-setup.sh mounts it at /data by its by-id device, not Hetzner's path.
    this.volumeAttachment = new hcloud.VolumeAttachment(`${name}-volume-attachment`, {
      volumeId: numericId(this.volume),
      serverId,
      automount: false,
    }, child)

    // The cutover and rollback runbooks move the floating IP between the old and the new server
    // through the Hetzner API. ignoreChanges on serverId means the next `pulumi up` (even with
    // --refresh) leaves the assignment wherever the runbooks put it instead of pulling the
    // address back to this server in the middle of a cutover or after a rollback.
    this.floatingIpAssignment = new hcloud.FloatingIpAssignment(`${name}-floating-ip-assignment`, {
      floatingIpId: numericId(this.floatingIp),
      serverId,
    }, { ...child, ignoreChanges: ['serverId'] })

    const net = cfg.privateNetwork
    if (net) {
      this.network = new hcloud.Network(`${name}-network`, {
        name: cfg.name,
        ipRange: net.ipRange,
        deleteProtection: cfg.production,
        labels,
      }, child)
      const subnet = new hcloud.NetworkSubnet(`${name}-subnet`, {
        networkId: numericId(this.network),
        type: 'cloud',
        networkZone: net.networkZone,
        ipRange: net.subnetRange,
      }, child)
      this.serverNetwork = new hcloud.ServerNetwork(`${name}-server-network`, {
        serverId,
        subnetId: subnet.id,
        ...(net.newServerIp ? { ip: net.newServerIp } : {}),
      }, child)
      // The old server is not managed here; attaching it lets migration traffic stay private.
      if (net.oldServerId !== undefined) {
        this.oldServerNetwork = new hcloud.ServerNetwork(`${name}-old-server-network`, {
          serverId: net.oldServerId,
          subnetId: subnet.id,
          ...(net.oldServerIp ? { ip: net.oldServerIp } : {}),
        }, child)
      }
    }

    this.knownHosts = pulumi
      .all([this.floatingIp.ipAddress, this.server.ipv4Address, this.server.ipv6Address, this.hostKey.publicKey])
      .apply(([fip, ipv4, ipv6, publicKey]) => knownHostsLine([fip, ipv4, ipv6], publicKey))

    this.registerOutputs({
      serverId: this.server.id,
      floatingIp: this.floatingIp.ipAddress,
      volumeId: this.volume.id,
      knownHosts: this.knownHosts,
    })
  }
}
