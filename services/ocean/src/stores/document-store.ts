// Profiles and metadata: small JSON documents stored as text, keyed by id.
import type { Statement } from 'better-sqlite3'
import { Errors } from '../errors.ts'
import { nowIso, type SqliteDb } from './sqlite-db.ts'

export interface Profile {
  id: string
  user_id: number | null
  profile: unknown
  updated_at: string
}

export interface MetadataEntry {
  key: string
  value: unknown
  updated_at: string
}

export class DocumentStore {
  private readonly upsertProfile: Statement<[string, number | null, string, string]>
  private readonly getProfileStmt: Statement<[string], { id: string; user_id: number | null; profile: string; updated_at: string }>
  private readonly upsertMeta: Statement<[string, string, string]>
  private readonly getMetaStmt: Statement<[string], { key: string; value: string; updated_at: string }>
  private readonly userExists: Statement<[number], { id: number }>

  constructor(db: SqliteDb) {
    this.upsertProfile = db.prepare(
      `INSERT INTO profiles (id, user_id, profile, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, profile = excluded.profile, updated_at = excluded.updated_at`,
    )
    this.getProfileStmt = db.prepare('SELECT id, user_id, profile, updated_at FROM profiles WHERE id = ?')
    this.upsertMeta = db.prepare(
      `INSERT INTO metadata (key, value, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    )
    this.getMetaStmt = db.prepare('SELECT key, value, updated_at FROM metadata WHERE key = ?')
    this.userExists = db.prepare('SELECT id FROM users WHERE id = ?')
  }

  storeProfile(id: string, userId: number | null, profile: unknown): Profile {
    if (userId !== null && !this.userExists.get(userId)) throw Errors.notFound(`user ${userId} does not exist; create it first`)
    const updated = nowIso()
    this.upsertProfile.run(id, userId, JSON.stringify(profile), updated)
    return { id, user_id: userId, profile, updated_at: updated }
  }

  getProfile(id: string): Profile | undefined {
    const row = this.getProfileStmt.get(id)
    return row && { ...row, profile: JSON.parse(row.profile) }
  }

  setMetadata(key: string, value: unknown): MetadataEntry {
    const updated = nowIso()
    this.upsertMeta.run(key, JSON.stringify(value), updated)
    return { key, value, updated_at: updated }
  }

  getMetadata(key: string): MetadataEntry | undefined {
    const row = this.getMetaStmt.get(key)
    return row && { ...row, value: JSON.parse(row.value) }
  }
}
