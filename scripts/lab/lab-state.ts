// Where a lab lives on this machine and what it remembers: the lab directory (.lab/ at the
// repo root, or OCEAN_OPS_LAB_DIR) holding keys, known_hosts and state.json.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeFileAtomic } from '../../runbooks/lib/write-file-atomic.ts'
import type { Lab } from './lab.ts'

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const LAB_DIR_ENV = 'OCEAN_OPS_LAB_DIR'

export interface SeedSize {
  users: number
  telemetryRows: number
}

/** What state.json holds: the Lab handed to callers plus what only the lab itself needs. */
export interface LabState {
  version: 1
  lab: Lab
  /** Every volume the lab made (labDown removes them by these names and by label). */
  volumes: string[]
  images: { old: string; new: string }
  seed: SeedSize
  /** sha256 of the infra/host-setup.sh the new host last ran. */
  hostSetupHash: string
  rogueVariant: RogueVariant
  createdAt: string
}

export type RogueVariant = 'on-disk' | 'deleted'

export function labDir(): string {
  return path.resolve(process.env[LAB_DIR_ENV] || path.join(REPO_ROOT, '.lab'))
}

export const labFiles = (dir: string) => ({
  state: path.join(dir, 'state.json'),
  identity: path.join(dir, 'id_ed25519'),
  knownHosts: path.join(dir, 'known_hosts'),
  hostKeys: path.join(dir, 'host-keys'),
})

export function readState(dir = labDir()): LabState | undefined {
  const file = labFiles(dir).state
  if (!fs.existsSync(file)) return undefined
  const state = JSON.parse(fs.readFileSync(file, 'utf8')) as LabState
  return state.version === 1 ? state : undefined
}

export function writeState(state: LabState): void {
  const file = labFiles(state.lab.dir).state
  fs.mkdirSync(path.dirname(file), { recursive: true })
  // Database passwords live here: owner-only, written whole or not at all.
  writeFileAtomic(file, JSON.stringify(state, null, 2) + '\n')
}

/** Removes what the lab wrote into its directory, leaving anything else there (dockerd's log). */
export function removeLabFiles(dir: string): void {
  const f = labFiles(dir)
  for (const p of [f.state, f.identity, `${f.identity}.pub`, f.knownHosts, f.hostKeys]) fs.rmSync(p, { recursive: true, force: true })
}

/** Seed size from the caller, else LAB_SEED_USERS / LAB_SEED_TELEMETRY, else the default. */
export function seedSize(requested: SeedSize | undefined, fallback: SeedSize): { seed: SeedSize; explicit: boolean } {
  if (requested) return { seed: checkSeed(requested), explicit: true }
  const users = process.env.LAB_SEED_USERS
  const rows = process.env.LAB_SEED_TELEMETRY
  if (users || rows) {
    return { seed: checkSeed({ users: Number(users ?? fallback.users), telemetryRows: Number(rows ?? fallback.telemetryRows) }), explicit: true }
  }
  return { seed: fallback, explicit: false }
}

function checkSeed(s: SeedSize): SeedSize {
  for (const [k, v] of Object.entries(s)) {
    if (!Number.isSafeInteger(v) || v < 0 || v > 100_000_000) throw new RangeError(`seed ${k} must be an integer 0..100000000, got ${v}`)
  }
  return s
}
