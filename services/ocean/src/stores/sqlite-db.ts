// Opens the operational SQLite database (users, sessions, billing, profiles, metadata) with the
// settings several processes can share, and brings its schema up to date.
import fs from 'node:fs'
import path from 'node:path'
import { keepPrivate } from './private-files.ts'
import Database from 'better-sqlite3'

export type SqliteDb = Database.Database

// Each entry moves the schema one version up; never edit a released entry, append a new one.
const MIGRATIONS: string[] = [
  `CREATE TABLE users (
     id INTEGER PRIMARY KEY,
     username TEXT NOT NULL,
     email TEXT NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE UNIQUE INDEX users_username ON users(username COLLATE NOCASE);
   CREATE UNIQUE INDEX users_email ON users(email COLLATE NOCASE);
   CREATE TABLE sessions (
     token_hash TEXT PRIMARY KEY,
     user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     created_at TEXT NOT NULL,
     expires_at INTEGER NOT NULL,
     revoked_at INTEGER
   ) WITHOUT ROWID;
   CREATE INDEX sessions_user ON sessions(user_id);
   CREATE INDEX sessions_expires ON sessions(expires_at);
   CREATE TABLE billing_accounts (
     user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
     credits INTEGER NOT NULL DEFAULT 0 CHECK (credits >= 0),
     usage INTEGER NOT NULL DEFAULT 0 CHECK (usage >= 0),
     updated_at TEXT NOT NULL
   );
   CREATE TABLE billing_ops (
     user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     idempotency_key TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('add', 'consume')),
     amount INTEGER NOT NULL,
     credits_after INTEGER NOT NULL,
     usage_after INTEGER NOT NULL,
     created_at TEXT NOT NULL,
     PRIMARY KEY (user_id, idempotency_key)
   ) WITHOUT ROWID;
   CREATE TABLE profiles (
     id TEXT PRIMARY KEY,
     user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
     profile TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE TABLE metadata (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );`,
]

export function openSqlite(dataDir: string): SqliteDb {
  fs.mkdirSync(dataDir, { recursive: true })
  const db = new Database(path.join(dataDir, 'ocean.db'))
  db.pragma('journal_mode = WAL')
  db.pragma('busy_timeout = 5000')
  db.pragma('synchronous = NORMAL')
  db.pragma('foreign_keys = ON')
  // Keep the WAL bounded: checkpoint every ~4 MB and truncate the file back to 64 MB at most.
  db.pragma('wal_autocheckpoint = 1000')
  db.pragma('journal_size_limit = 67108864')
  migrate(db)
  keepPrivate(dataDir)
  return db
}

function migrate(db: SqliteDb): void {
  // BEGIN IMMEDIATE: two processes starting at once must not both apply the same migration.
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number
    for (let v = current; v < MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v] as string)
      db.pragma(`user_version = ${v + 1}`)
    }
  }).immediate()
}

export function isUniqueViolation(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE'
}

export function nowIso(): string {
  return new Date().toISOString()
}
