// `ocean-ops inventory --from-pulumi`: reads the infra stack's outputs (from the Pulumi CLI, a
// file or stdin) and writes the runbooks' inventory file, readable by its owner only.
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { $ } from 'zx'
import { inventoryFromPulumi, mergeInventory, type PulumiInventory } from '../lib/inventory-from-pulumi.ts'
import { OpsError } from '@ocean-ops/common'
import { writeFileAtomic } from '../lib/write-file-atomic.ts'

/** Where Pulumi.yaml lives: the repo root, whatever directory the command is run from. */
const PROJECT_DIR = fileURLToPath(new URL('../..', import.meta.url))

export interface InventoryOptions {
  fromPulumi?: boolean
  stack?: string
  cwd: string
  out: string
  stdin?: boolean
  input?: string
}

export function registerInventoryCommand(cli: Command): void {
  cli
    .command('inventory')
    .description('Write the runbooks\' inventory file from the infra stack outputs.')
    .option('--from-pulumi', 'read `pulumi stack output --json` of the infra/ program')
    .option('--stack <name>', 'Pulumi stack to read (default: the selected stack)')
    .option('--cwd <dir>', 'Pulumi project directory', PROJECT_DIR)
    .option('--stdin', 'read the stack output JSON from stdin instead of running pulumi')
    .option('--input <file>', 'read the stack output JSON from a file instead of running pulumi')
    .option('--out <file>', 'inventory file to write (mode 0600); other entries in it are kept', 'inventory.json')
    .action(async (opts: InventoryOptions) => {
      const fresh = await buildInventory(opts)
      const path = resolve(opts.out)
      const existing = readExisting(path)
      writeFileAtomic(path, JSON.stringify(mergeInventory(existing, fresh), null, 2) + '\n')
      const verb = existing === undefined ? 'wrote' : 'updated'
      process.stdout.write(`${verb} ${path}: new host ${fresh.newHost.address}, floating IP ${fresh.floatingIp.address}\n`)
    })
}

export async function buildInventory(opts: InventoryOptions): Promise<PulumiInventory> {
  if (!opts.fromPulumi) throw new OpsError('OPS_E_USAGE', 'say where the inventory comes from: --from-pulumi (the only source so far)')
  if (opts.stdin && opts.input) throw new OpsError('OPS_E_USAGE', 'use either --stdin or --input, not both')
  const text = opts.stdin ? await readStdin() : opts.input ? readInput(opts.input) : await pulumiStackOutput(opts)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new OpsError('OPS_E_CONFIG', 'the stack output is not JSON; pass the output of `pulumi stack output --json`')
  }
  return inventoryFromPulumi(parsed, opts.stack ? { stack: opts.stack } : {})
}

async function pulumiStackOutput(opts: InventoryOptions): Promise<string> {
  // No --show-secrets: everything the inventory needs is a plain output.
  const stackArgs = opts.stack ? ['--stack', opts.stack] : []
  const p = await $({ cwd: opts.cwd, quiet: true, nothrow: true })`pulumi stack output --json ${stackArgs}`
  if (p.exitCode === 127) {
    throw new OpsError('OPS_E_PULUMI', 'the pulumi CLI is not installed (this repo cannot install it): see https://www.pulumi.com/docs/install/, or pipe the JSON in with --stdin')
  }
  if (p.exitCode !== 0) {
    const tail = p.stderr.trim().split('\n').slice(-5).join('\n')
    throw new OpsError('OPS_E_PULUMI', `\`pulumi stack output --json${opts.stack ? ` --stack ${opts.stack}` : ''}\` failed (exit ${p.exitCode}) in ${opts.cwd}:\n${tail}`)
  }
  return p.stdout
}

function readExisting(path: string): unknown {
  if (!existsSync(path)) return undefined
  try {
    return JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new OpsError('OPS_E_CONFIG', `${path} exists but is not JSON (${(e as Error).message}): move it away or fix it, then run again`)
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function readInput(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (e) {
    throw new OpsError('OPS_E_USAGE', `cannot read --input ${file}: ${(e as Error).message}`)
  }
}

