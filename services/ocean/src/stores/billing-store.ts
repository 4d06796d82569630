// Billing: credits added and consumed atomically. The balance never goes below zero (a CHECK
// constraint backs the code), and a retried request with the same idempotency key is applied once.
import type { Statement } from 'better-sqlite3'
import { Errors } from '../errors.ts'
import { nowIso, type SqliteDb } from './sqlite-db.ts'

export interface Balance {
  user_id: number
  credits: number
  usage: number
}

interface Op {
  kind: string
  amount: number
  credits_after: number
  usage_after: number
}

export class BillingStore {
  private readonly db: SqliteDb
  private readonly userExists: Statement<[number], { id: number }>
  private readonly account: Statement<[number], Balance>
  private readonly ensure: Statement<[number, string]>
  private readonly add: Statement<[number, string, number]>
  private readonly consume: Statement<[number, number, string, number, number]>
  private readonly findOp: Statement<[number, string], Op>
  private readonly recordOp: Statement<[number, string, string, number, number, number, string]>

  constructor(db: SqliteDb) {
    this.db = db
    this.userExists = db.prepare('SELECT id FROM users WHERE id = ?')
    this.account = db.prepare('SELECT user_id, credits, usage FROM billing_accounts WHERE user_id = ?')
    this.ensure = db.prepare('INSERT OR IGNORE INTO billing_accounts (user_id, credits, usage, updated_at) VALUES (?, 0, 0, ?)')
    this.add = db.prepare('UPDATE billing_accounts SET credits = credits + ?, updated_at = ? WHERE user_id = ?')
    this.consume = db.prepare(
      'UPDATE billing_accounts SET credits = credits - ?, usage = usage + ?, updated_at = ? WHERE user_id = ? AND credits >= ?',
    )
    this.findOp = db.prepare('SELECT kind, amount, credits_after, usage_after FROM billing_ops WHERE user_id = ? AND idempotency_key = ?')
    this.recordOp = db.prepare(
      'INSERT INTO billing_ops (user_id, idempotency_key, kind, amount, credits_after, usage_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    )
  }

  balance(userId: number): Balance {
    this.requireUser(userId)
    return this.account.get(userId) ?? { user_id: userId, credits: 0, usage: 0 }
  }

  addCredits(userId: number, credits: number, key?: string): Balance {
    return this.apply(userId, 'add', credits, key, () => {
      this.add.run(credits, nowIso(), userId)
    })
  }

  consumeCredits(userId: number, credits: number, key?: string): Balance {
    return this.apply(userId, 'consume', credits, key, () => {
      const changed = this.consume.run(credits, credits, nowIso(), userId, credits).changes
      if (changed === 0) {
        const have = this.account.get(userId)?.credits ?? 0
        throw Errors.insufficientCredits(`user ${userId} has ${have} credits, ${credits} requested; add credits first`)
      }
    })
  }

  private apply(userId: number, kind: 'add' | 'consume', amount: number, key: string | undefined, change: () => void): Balance {
    // IMMEDIATE: take the write lock before reading, so two processes cannot both pass the check.
    return this.db.transaction((): Balance => {
      this.requireUser(userId)
      if (key !== undefined) {
        const prior = this.findOp.get(userId, key)
        if (prior) {
          if (prior.kind !== kind || prior.amount !== amount) {
            throw Errors.idempotencyConflict(`idempotency key ${JSON.stringify(key)} was used for ${prior.kind} ${prior.amount}; use a new key`)
          }
          return { user_id: userId, credits: prior.credits_after, usage: prior.usage_after }
        }
      }
      this.ensure.run(userId, nowIso())
      change()
      const after = this.account.get(userId) as Balance
      if (key !== undefined) this.recordOp.run(userId, key, kind, amount, after.credits, after.usage, nowIso())
      return after
    }).immediate()
  }

  private requireUser(userId: number): void {
    if (!this.userExists.get(userId)) throw Errors.notFound(`user ${userId} does not exist; create it first`)
  }
}
