// `ocean-ops lab up|down|status|traffic|rogue`: the local lab of test hosts (runbooks/lab).
import type { Command } from 'commander'
import { labDown, labStatus, labUp, loadLab, type Lab } from '../lab/lab.ts'
import { writeLabInventory } from '../lab/lab-inventory.ts'
import { sshArgv } from '../lab/lab-ssh.ts'
import { setRogueVariant } from '../lab/rogue.ts'
import { simulateTraffic } from '../lab/traffic.ts'
import { OpsError } from '@ocean-ops/common'

const log = (line: string) => process.stderr.write(`lab: ${line}\n`)

function count(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new OpsError('OPS_E_USAGE', `${name} must be a whole number, got ${v}`)
    return Number(v)
  }
}

function describe(lab: Lab): string {
  const ssh = (role: 'old' | 'new') => sshArgv(lab, lab[role]).join(' ')
  return [
    `lab ${lab.id} (network ${lab.networkName}, files in ${lab.dir})`,
    `  old  ${lab.old.address}  ssh: ${ssh('old')}`,
    `  new  ${lab.new.address}  ssh: ${ssh('new')}`,
    `  old databases (inside the old host only): postgresql://${lab.oldDb.pgUser}@127.0.0.1:${lab.oldDb.pgPort}/${lab.oldDb.pgDatabase}, ` +
      `mysql://${lab.oldDb.mysqlUser}@127.0.0.1:${lab.oldDb.mysqlPort}/${lab.oldDb.mysqlDatabase} (passwords in ${lab.dir}/state.json)`,
  ].join('\n')
}

async function requireLab(): Promise<Lab> {
  const lab = await loadLab()
  if (!lab || !(await labStatus()).up) throw new OpsError('OPS_E_LAB', 'no lab is up: run `ocean-ops lab up` first')
  return lab
}

export function registerLab(cli: Command): void {
  const lab = cli.command('lab').description('The local lab: an old and a new Debian host in Docker, reached over SSH on 127.0.0.1.')

  lab
    .command('up')
    .description('Build the images (cached by content hash), start both hosts, seed the old one; reuses a running lab.')
    .option('--users <n>', 'users to seed (default 100000, or LAB_SEED_USERS)', count('--users'))
    .option('--telemetry <n>', 'telemetry rows to seed (default 5000000, or LAB_SEED_TELEMETRY)', count('--telemetry'))
    .option('--json', 'print the lab as JSON (includes the database passwords)')
    .action(async (o: { users?: number; telemetry?: number; json?: boolean }) => {
      if ((o.users === undefined) !== (o.telemetry === undefined)) throw new OpsError('OPS_E_USAGE', 'give both --users and --telemetry, or neither')
      const seed = o.users !== undefined && o.telemetry !== undefined ? { users: o.users, telemetryRows: o.telemetry } : undefined
      const up = await labUp({ log, seed })
      const inventory = writeLabInventory(up)
      process.stdout.write(o.json ? `${JSON.stringify({ ...up, inventory }, null, 2)}\n` : `${describe(up)}\n  inventory for the runbooks: ${inventory} (ocean-ops deploy -i ${inventory})\n`)
    })

  lab
    .command('down')
    .description('Remove every container, network and volume the lab made, and its keys.')
    .action(async () => {
      await labDown({ log })
    })

  lab
    .command('status')
    .description('Whether the lab is up, and its containers.')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const s = await labStatus()
      if (o.json) {
        process.stdout.write(`${JSON.stringify(s, null, 2)}\n`)
        return
      }
      process.stdout.write(s.lab ? `${describe(s.lab)}\n` : 'lab: down\n')
      for (const c of s.containers) process.stdout.write(`  ${c.role.padEnd(4)} ${c.id.slice(0, 12)} ${c.state}\n`)
    })

  lab
    .command('traffic')
    .description('Simulate the old Ocean app\'s writes on the old host (users, sessions, billing, telemetry).')
    .requiredOption('--rate <n>', 'writes per second (1..10000)', count('--rate'))
    .requiredOption('--seconds <n>', 'how long (1..3600)', count('--seconds'))
    .action(async (o: { rate: number; seconds: number }) => {
      const counts = await simulateTraffic(await requireLab(), o)
      process.stdout.write(`${JSON.stringify(counts)}\n`)
    })

  lab
    .command('rogue')
    .description('Restart the rogue /tmp/mysql as the variant that stays on disk or the one that deletes its binary.')
    .argument('<variant>', 'on-disk | deleted')
    .action(async (variant: string) => {
      if (variant !== 'on-disk' && variant !== 'deleted') throw new OpsError('OPS_E_USAGE', `variant must be on-disk or deleted, got ${variant}`)
      const procs = await setRogueVariant(await requireLab(), variant)
      for (const p of procs) process.stdout.write(`pid ${p.pid} ${p.exe}\n`)
    })
}
