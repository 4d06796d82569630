// The built-in mapping from the old Ocean app's tables to the new service's schema (SQLite for
// users, sessions, billing, profiles, metadata; DuckDB telemetry). It applies to the tables it
// names when they exist with the columns it needs; a --mapping file overrides it table by table.
// Several sources are listed for a column where the old app's schema varied between versions;
// the first that exists is used.
import type { MappingFile } from './mapping-file.ts'

export const OCEAN_LEGACY_MAPPING: MappingFile = {
  tables: {
    users: {
      target: 'sqlite:users',
      columns: {
        id: 'id',
        username: 'username',
        email: 'email',
        created_at: 'created_at',
        // The old app had no updated_at at first: a user never updated was last updated when created.
        updated_at: [{ from: 'updated_at' }, { from: 'created_at' }],
      },
    },
    sessions: {
      target: 'sqlite:sessions',
      columns: {
        // The service stores only SHA-256(token): a session keeps working, a copy of the file does not log anyone in.
        token_hash: [{ from: 'token_hash' }, { from: 'token', transform: 'sha256' }],
        user_id: 'user_id',
        created_at: 'created_at',
        expires_at: { from: 'expires_at', transform: 'epoch-ms' },
        revoked_at: [{ from: 'revoked_at', transform: 'epoch-ms' }, { null: true }],
      },
    },
    billing: {
      target: 'sqlite:billing_accounts',
      columns: { user_id: 'user_id', credits: 'credits', usage: 'usage', updated_at: 'updated_at' },
    },
    credit_transactions: {
      target: 'sqlite:billing_ops',
      columns: {
        user_id: 'user_id',
        idempotency_key: 'idempotency_key',
        kind: 'kind',
        amount: 'amount',
        credits_after: 'credits_after',
        usage_after: 'usage_after',
        created_at: 'created_at',
      },
    },
    profiles: {
      target: 'sqlite:profiles',
      columns: { id: 'id', user_id: 'user_id', profile: 'profile', updated_at: 'updated_at' },
    },
    metadata: {
      target: 'sqlite:metadata',
      columns: { key: 'key', value: 'value', updated_at: 'updated_at' },
    },
    telemetry: {
      target: 'telemetry',
      columns: { sensor_id: 'sensor_id', ts: 'ts', value: 'value', data: 'data' },
      // The service's telemetry has no surrogate id and no processed flag (its worker has no batch
      // job to mark rows): both are dropped on purpose, and said so in the plan and the report.
      drop: ['id', 'processed'],
      watermark: 'id',
      appendOnly: true,
    },
  },
}
