// The deploy's backup step: the settings files on the new host (0600, the container user's),
// the cache volume, the repository created unless it exists (a wrong password stops the deploy),
// and the backup container, replaced only when its definition changed.
import crypto from 'node:crypto'
import fs from 'node:fs'
import type Docker from 'dockerode'
import { OpsError } from '@ocean-ops/common'
import { backupEnv, backupNames, backupSpec, backupToolSpec } from '../deploy/backup-spec.ts'
import { ensureVolume, inspectContainer, removeContainer, waitHealthy } from '../deploy/docker-ops.ts'
import { labels, OCEAN_UID, type StackNames, type StackSettings } from '../deploy/stack-spec.ts'
import type { SshHost } from '../host/ssh-host.ts'
import { writeIfChanged } from '../host/write-if-changed.ts'
import { resolveSecret, type BackupTarget } from '../inventory.ts'
import { runBackupTool } from './backup-tool.ts'

export interface BackupFiles {
  'backup.env': string
  password: string
  ssh_key?: string
  known_hosts?: string
}

/** What goes into the settings directory, from the inventory's backup section (secrets resolved). */
export function backupFiles(b: BackupTarget, stack: string, n: StackNames): BackupFiles {
  const s3 = b.s3 ? { accessKeyId: resolveSecret(b.s3.accessKeyId, 'the S3 access key id'), secretAccessKey: resolveSecret(b.s3.secretAccessKey, 'the S3 secret key') } : undefined
  const files: BackupFiles = { 'backup.env': backupEnv(b, stack, n, s3), password: resolveSecret(b.password, 'the backup repository password') }
  if (b.sftp) {
    const read = (p: string, what: string) => {
      try {
        return fs.readFileSync(p, 'utf8')
      } catch {
        throw new OpsError('OPS_E_INVENTORY', `backup.sftp.${what} ${p} cannot be read`)
      }
    }
    files.ssh_key = read(b.sftp.identityFile, 'identityFile')
    files.known_hosts = b.sftp.knownHosts ? `${b.sftp.knownHosts.trim()}\n` : read(b.sftp.knownHostsFile!, 'knownHostsFile')
  }
  return files
}

export async function deployBackup(host: SshHost, docker: Docker, b: BackupTarget, s: StackSettings, n: StackNames, progress: (l: string) => void, o: { textfileVolume?: string } = {}): Promise<{ changed: boolean; repository: string }> {
  const bn = backupNames(n, s.stack, o)
  const files = backupFiles(b, s.stack, n)
  await host.exec(['install', '-d', '-m', '0700', '-o', String(OCEAN_UID), '-g', String(OCEAN_UID), bn.settingsDir], { sudo: true })
  let changed = false
  for (const [name, text] of Object.entries(files) as Array<[string, string]>) {
    if (await writeIfChanged(host, `${bn.settingsDir}/${name}`, text, `${OCEAN_UID}:${OCEAN_UID}`)) changed = true
  }
  await ensureVolume(docker, bn.cacheVolume, { [labels.stack]: s.stack })
  const init = await runBackupTool<{ repository: 'created' | 'exists' }>(docker, backupToolSpec(s, n, bn, ['init']), { log: progress })
  progress(`repository ${b.repository}: ${init.repository}`)
  const hash = sha(Object.values(files).join('\0'))
  const spec = backupSpec(s, n, bn, hash)
  const current = await inspectContainer(docker, bn.container)
  if (current?.State.Running && current.Config.Labels?.[labels.spec] === spec.Labels![labels.spec]) return { changed: changed || init.repository === 'created', repository: init.repository }
  if (current) await removeContainer(docker, bn.container)
  await (await docker.createContainer(spec)).start()
  await waitHealthy(docker, bn.container, 120_000, progress)
  return { changed: true, repository: init.repository }
}

function sha(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex')
}
