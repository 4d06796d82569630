// Users: create and look up. Usernames and emails are unique regardless of case.
import type { Statement } from 'better-sqlite3'
import { Errors } from '../errors.ts'
import { isUniqueViolation, nowIso, type SqliteDb } from './sqlite-db.ts'

export interface User {
  id: number
  username: string
  email: string
  created_at: string
  updated_at: string
}

export class UserStore {
  private readonly insert: Statement<[string, string, string, string], never>
  private readonly byId: Statement<[number], User>
  private readonly count: Statement<[], { n: number }>

  constructor(db: SqliteDb) {
    this.insert = db.prepare('INSERT INTO users (username, email, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING *')
    this.byId = db.prepare('SELECT id, username, email, created_at, updated_at FROM users WHERE id = ?')
    this.count = db.prepare('SELECT count(*) AS n FROM users')
  }

  create(username: string, email: string): User {
    const now = nowIso()
    try {
      return this.insert.get(username, email, now, now) as unknown as User
    } catch (e) {
      if (isUniqueViolation(e)) throw Errors.conflict('a user with this username or email already exists')
      throw e
    }
  }

  get(id: number): User | undefined {
    return this.byId.get(id)
  }

  total(): number {
    return this.count.get()?.n ?? 0
  }
}
