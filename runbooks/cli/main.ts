// The ocean-ops command line: one commander program; each runbook registers a subcommand.
import { Command, CommanderError } from 'commander'
import { isOpsError } from '@ocean-ops/common'
import { registerBackup } from './backup.ts'
import { registerCutover } from './cutover.ts'
import { registerDeploy } from './deploy.ts'
import { registerInventoryCommand } from './inventory.ts'
import { registerLab } from './lab.ts'
import { registerMigrateDataCommand } from './migrate-data.ts'
import { registerMonitor } from './monitor.ts'
import { registerRehearse } from './rehearse.ts'
import { registerRemoveMysql } from './remove-mysql.ts'
import { registerStatus } from './status.ts'
import { registerVerify } from './verify.ts'

export function program(): Command {
  const cli = new Command('ocean-ops')
    .description('Provision, deploy, migrate, cut over and roll back the Ocean stack.')
    .exitOverride()
    .showHelpAfterError()

  registerRehearse(cli)
  registerInventoryCommand(cli)
  registerDeploy(cli)
  registerVerify(cli)
  registerMigrateDataCommand(cli)
  registerLab(cli)
  registerCutover(cli)
  registerRemoveMysql(cli)
  registerBackup(cli)
  registerStatus(cli)
  registerMonitor(cli)

  return cli
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv)
    return 0
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode
    if (isOpsError(e)) {
      process.stderr.write(`ocean-ops: ${e.code}: ${e.message}\n`)
      return e.exitCode
    }
    throw e
  }
}
