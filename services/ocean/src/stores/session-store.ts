// Sessions: random 256-bit tokens handed to the client once; only their SHA-256 is stored, so a
// copy of the database does not let anyone log in.
import crypto from 'node:crypto'
import type { Statement } from 'better-sqlite3'
import { Errors } from '../errors.ts'
import { nowIso, type SqliteDb } from './sqlite-db.ts'

export interface CreatedSession {
  token: string
  user_id: number
  expires_at: string
}

export type Validation = { valid: true; user_id: number; expires_at: string } | { valid: false }

function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex')
}

export class SessionStore {
  private readonly insert: Statement<[string, number, string, number]>
  private readonly lookup: Statement<[string], { user_id: number; expires_at: number; revoked_at: number | null }>
  private readonly revokeStmt: Statement<[number, string]>
  private readonly purge: Statement<[number]>
  private readonly userExists: Statement<[number], { id: number }>

  constructor(db: SqliteDb) {
    this.insert = db.prepare('INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)')
    this.lookup = db.prepare('SELECT user_id, expires_at, revoked_at FROM sessions WHERE token_hash = ?')
    this.revokeStmt = db.prepare('UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL')
    this.purge = db.prepare('DELETE FROM sessions WHERE expires_at < ?')
    this.userExists = db.prepare('SELECT id FROM users WHERE id = ?')
  }

  create(userId: number, ttlSeconds: number): CreatedSession {
    if (!this.userExists.get(userId)) throw Errors.notFound(`user ${userId} does not exist; create it first`)
    const token = crypto.randomBytes(32).toString('base64url')
    const expiresAt = Date.now() + ttlSeconds * 1000
    this.insert.run(hashToken(token), userId, nowIso(), expiresAt)
    return { token, user_id: userId, expires_at: new Date(expiresAt).toISOString() }
  }

  validate(token: string): Validation {
    const row = this.lookup.get(hashToken(token))
    if (!row || row.revoked_at !== null || row.expires_at <= Date.now()) return { valid: false }
    return { valid: true, user_id: row.user_id, expires_at: new Date(row.expires_at).toISOString() }
  }

  revoke(token: string): boolean {
    return this.revokeStmt.run(Date.now(), hashToken(token)).changes > 0
  }

  /** Deletes sessions that expired more than a day ago (kept a day for audit). */
  purgeExpired(now = Date.now()): number {
    return this.purge.run(now - 86_400_000).changes
  }
}
