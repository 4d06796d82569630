// The runbooks' inventory for the lab: both hosts by their 127.0.0.1 SSH ports with the lab key
// and its pinned known_hosts, the Ocean secrets as `file:` references to owner-only files made once
// per lab (so a second deploy finds nothing changed), the URL clients use, and the backup target:
// a restic repository on the storage host over SFTP, as the new host reaches it, and monitoring
// whose alerts go to the rehearsal's webhook receiver. Written to
// <lab dir>/inventory.json; every runbook then runs against the lab with `-i .lab/inventory.json`.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Inventory } from '../lib/inventory.ts'
import { writeFileAtomic } from '../lib/write-file-atomic.ts'
import type { Lab } from './lab-types.ts'

export const LAB_OCEAN_PORT = 8030

/** The rehearsal's webhook receiver (a stand-in for the operator's): a container on the stack's network; the lab's alerts go there. */
export const SINK_PORT = 9099
export const alertSinkName = (stack: string): string => `${stack}-alert-sink`
export const alertSinkUrl = (stack: string): string => `http://${alertSinkName(stack)}:${SINK_PORT}/alerts`

/** The storage host's SFTP-only user (uid fixed in images/storage/Dockerfile) and where repositories live. */
export const LAB_BACKUP = { user: 'backup', uid: 1001, root: '/srv/backup' } as const

/** Writes the secret file (random content unless `value` is given) unless it holds that already; returns its `file:` reference. */
export function secretFile(dir: string, name: string, value?: string): string {
  const file = path.join(dir, 'secrets', name)
  if (!fs.existsSync(file) || (value !== undefined && fs.readFileSync(file, 'utf8') !== value)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
    writeFileAtomic(file, value ?? crypto.randomBytes(24).toString('hex'))
  }
  return `file:${file}`
}

export function labInventory(lab: Lab): Inventory {
  const host = (h: Lab['old']) => ({ address: '127.0.0.1', port: h.sshPort, user: h.user, identityFile: lab.identityFile, knownHostsFile: lab.knownHostsFile, labAddress: h.address })
  return {
    schemaVersion: 1,
    source: { lab: lab.id },
    newHost: host(lab.new),
    oldHost: host(lab.old),
    oceanPort: LAB_OCEAN_PORT,
    ocean: {
      stack: 'ocean',
      apiKey: secretFile(lab.dir, 'ocean-api-key'),
      redisPassword: secretFile(lab.dir, 'redis-password'),
      apiProcesses: 0,
      cpus: 1,
      memoryMb: 1024,
      redisMemoryMb: 256,
      url: `http://${lab.new.address}:${LAB_OCEAN_PORT}`,
    },
    oldDatabase: {
      url: `postgres://${lab.oldDb.pgUser}@127.0.0.1:${lab.oldDb.pgPort}/${lab.oldDb.pgDatabase}`,
      password: secretFile(lab.dir, 'old-postgres-password', lab.oldDb.pgPassword),
    },
    // restic runs in a container on the new host and reaches the storage host on the lab network, port 22.
    backup: {
      repository: `sftp:${LAB_BACKUP.user}@${lab.storage.address}:${LAB_BACKUP.root}/ocean`,
      password: secretFile(lab.dir, 'backup-password'),
      sftp: { identityFile: lab.backupKey.identityFile, knownHostsFile: lab.storageKnownHostsFile },
      sqliteSeconds: 30,
      duckdbSeconds: 900,
    },
    // Scraped every 5 s; alerts go to the rehearsal's webhook receiver on the stack's network, quickly.
    monitoring: {
      scrapeSeconds: 5,
      retentionSizeGb: 1,
      alerts: { webhookUrl: secretFile(lab.dir, 'alert-webhook', alertSinkUrl('ocean')), groupWaitSeconds: 5, groupIntervalSeconds: 10, repeatHours: 4 },
    },
  }
}

/** Writes <lab dir>/inventory.json (or `name`; 0600, whole or not at all); returns its path. */
export function writeLabInventory(lab: Lab, inventory: Inventory = labInventory(lab), name = 'inventory.json'): string {
  const file = path.join(lab.dir, name)
  writeFileAtomic(file, JSON.stringify(inventory, null, 2) + '\n')
  return file
}
