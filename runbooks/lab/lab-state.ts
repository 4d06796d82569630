// Where a lab lives on this machine and what it remembers: the lab directory (.lab/ at the
// repo root, or OCEAN_OPS_LAB_DIR) holding keys, known_hosts, state.json and secrets/. The old
// databases' passwords are never in state.json: each is a file in secrets/ (0700, files 0600)
// that state.json names; a state.json of the earlier format (passwords inline) is moved over the
// first time it is read.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeFileAtomic } from '../lib/write-file-atomic.ts'
import type { Lab } from './lab-types.ts'
import { secretFile } from './lab-inventory.ts'

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
  /** The images the hosts run (storage: absent in a lab made before the storage host). */
  images: { old: string; new: string; storage?: string }
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
  /** The storage host's backup user's client key. */
  backupIdentity: path.join(dir, 'backup_ed25519'),
  knownHosts: path.join(dir, 'known_hosts'),
  /** The storage host's line alone, under its lab address: what backups on the new host pin. */
  storageKnownHosts: path.join(dir, 'storage_known_hosts'),
  hostKeys: path.join(dir, 'host-keys'),
  secrets: path.join(dir, 'secrets'),
})

/** The passwords of the old databases, and the file (relative to the lab directory) each lives in. */
const SECRETS = { pgPassword: 'old-postgres-password', mysqlPassword: 'old-mysql-password' } as const
type SecretKey = keyof typeof SECRETS

/** state.json as stored: each password replaced by `{ file }`. */
type StoredDb = Omit<Lab['oldDb'], SecretKey> & Record<SecretKey, { file: string } | string>

function readSecret(dir: string, ref: { file: string } | string, key: SecretKey): string {
  if (typeof ref === 'string') return ref // the earlier format; rewritten by readState
  const file = path.resolve(dir, ref.file)
  if (path.relative(path.join(dir, 'secrets'), file).startsWith('..')) throw new Error(`lab state: ${key} must name a file in ${path.join(dir, 'secrets')}, not ${ref.file}`)
  return fs.readFileSync(file, 'utf8')
}

export function readState(dir = labDir()): LabState | undefined {
  const file = labFiles(dir).state
  if (!fs.existsSync(file)) return undefined
  const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as LabState & { lab: { oldDb: StoredDb } }
  if (stored.version !== 1) return undefined
  const db = stored.lab.oldDb
  const inline = typeof db.pgPassword === 'string' || typeof db.mysqlPassword === 'string'
  const state: LabState = {
    ...stored,
    lab: { ...stored.lab, oldDb: { ...db, pgPassword: readSecret(dir, db.pgPassword, 'pgPassword'), mysqlPassword: readSecret(dir, db.mysqlPassword, 'mysqlPassword') } },
  }
  if (inline) writeState(state) // moves the passwords out of state.json
  return state
}

/** Writes the passwords to secrets/ (0700, files 0600) and state.json naming them; each written whole or not at all. */
export function writeState(state: LabState): void {
  const dir = state.lab.dir
  const f = labFiles(dir)
  fs.mkdirSync(f.secrets, { recursive: true, mode: 0o700 })
  fs.chmodSync(f.secrets, 0o700)
  const db: Record<string, unknown> = { ...state.lab.oldDb }
  for (const [key, name] of Object.entries(SECRETS) as [SecretKey, string][]) {
    secretFile(dir, name, state.lab.oldDb[key])
    db[key] = { file: `secrets/${name}` }
  }
  writeFileAtomic(f.state, JSON.stringify({ ...state, lab: { ...state.lab, oldDb: db } }, null, 2) + '\n')
}

/** Removes what the lab wrote into its directory, leaving anything else there (dockerd's log). */
export function removeLabFiles(dir: string): void {
  const f = labFiles(dir)
  const secrets = Object.values(SECRETS).map((name) => path.join(f.secrets, name))
  const files = [f.state, f.identity, `${f.identity}.pub`, f.backupIdentity, `${f.backupIdentity}.pub`, f.knownHosts, f.storageKnownHosts, f.hostKeys]
  for (const p of [...files, ...secrets]) fs.rmSync(p, { recursive: true, force: true })
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
