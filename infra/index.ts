// The Pulumi program (Pulumi.yaml's main): read and validate the config, check the server type
// with Hetzner, create the OceanHost, and export what the runbooks need. Nothing is created
// unless every check passes.
import * as hcloud from '@pulumi/hcloud'
import * as pulumi from '@pulumi/pulumi'
import { BackupTarget } from './backup.ts'
import { readOceanConfig, type OceanConfig } from './config.ts'
import { OceanHost } from './ocean-host.ts'
import { checkServerType } from './server-type-check.ts'
import { readHostSetupScript } from './user-data.ts'

/** SSH port of the new host; sshd keeps the default, the firewall limits who reaches it. */
const SSH_PORT = 22

// Pulumi runs a default-exported function and takes the object it returns as the stack outputs.
export default async function oceanStack() {
  const config = readOceanConfig()
  const serverType = await hcloud.getServerType({ name: config.serverType })
  checkServerType(serverType, config.serverType, config.location)

  const host = new OceanHost('ocean', { config, hostSetupScript: readHostSetupScript() })
  const num = (id: pulumi.Output<string>) => id.apply((v) => Number(v))
  const serverId = num(host.server.id)
  const volumeId = num(host.volume.id)
  const floatingIpId = num(host.floatingIp.id)
  const floatingIp = host.floatingIp.ipAddress
  const ipv4 = host.server.ipv4Address

  return {
    serverId,
    floatingIp,
    floatingIpId,
    ipv4,
    ipv6: host.server.ipv6Address,
    volumeId,
    // Plain on purpose: it holds only the public host key, and the runbooks read it with
    // `pulumi stack output --json`, which shows secrets as "[secret]".
    knownHosts: host.knownHosts,
    // Kept so the server can be rebuilt with the same identity; shown only with --show-secrets.
    hostPrivateKey: pulumi.secret(host.hostKey.privateKeyOpenssh),
    // What `ocean-ops inventory --from-pulumi` turns into the runbooks' inventory file. The
    // runbooks reach the new host at its own IPv4: the floating IP may point at the old server
    // before and after a cutover (rollback), and the pinned key would then rightly refuse it.
    inventory: pulumi.output({
      newHost: { address: ipv4, ipv4, ipv6: host.server.ipv6Address, user: config.deployUser, port: SSH_PORT },
      knownHosts: host.knownHosts,
      floatingIp: { id: floatingIpId, address: floatingIp },
      oceanPort: config.oceanPort,
      volumeId,
      serverId,
      ...(host.serverNetwork ? { privateNetwork: { newHostIp: host.serverNetwork.ip, ipRange: config.privateNetwork?.ipRange } } : {}),
    }),
    // Only with ocean:backup: where restic sends the backups (see backupOutputs).
    ...backupOutputs(config),
  }
}

/** The backup target's outputs, present only with ocean:backup. The repository password goes
 *  out only as a secret (shown with --show-secrets); everything else is plain. */
function backupOutputs(config: OceanConfig) {
  if (!config.backup) return {}
  const ocean = new pulumi.Config('ocean')
  const target = new BackupTarget('backup', {
    hostName: config.name,
    backup: config.backup,
    ...(config.backup.storageBox ? { storageBoxPassword: ocean.requireSecret('storageBoxPassword') } : {}),
  })
  const boxId = target.storageBox?.id.apply((id) => Number(id))
  return {
    backupRepository: target.repository,
    backupPassword: pulumi.secret(ocean.requireSecret('backupPassword')),
    ...(target.sftpPort !== undefined ? { backupSftpPort: target.sftpPort } : {}),
    ...(target.knownHosts !== undefined ? { backupKnownHosts: target.knownHosts } : {}),
    ...(boxId ? { backupStorageBoxId: boxId } : {}),
  }
}
