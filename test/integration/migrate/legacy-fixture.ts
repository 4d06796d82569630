// The old Ocean app's PostgreSQL schema, with realistic data: what migrate-data meets on the old
// host. Tables the built-in mapping sends to the service's schema (users, sessions, billing,
// credit_transactions, profiles, metadata, telemetry) and tables nobody mapped (invoices with
// numerics, enums, arrays and bytea; an audit log without any key).
import pg from 'pg'

export const LEGACY_SCHEMA = `
CREATE TYPE invoice_status AS ENUM ('draft', 'sent', 'paid', 'void');
CREATE TABLE users (
  id serial PRIMARY KEY,
  username text NOT NULL UNIQUE,
  email text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE sessions (
  token text PRIMARY KEY,
  user_id int NOT NULL REFERENCES users(id),
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE TABLE billing (
  user_id int PRIMARY KEY REFERENCES users(id),
  credits bigint NOT NULL,
  usage bigint NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE TABLE credit_transactions (
  user_id int NOT NULL REFERENCES users(id),
  idempotency_key text NOT NULL,
  kind text NOT NULL,
  amount bigint NOT NULL,
  credits_after bigint NOT NULL,
  usage_after bigint NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, idempotency_key)
);
CREATE TABLE profiles (
  id uuid PRIMARY KEY,
  user_id int REFERENCES users(id),
  profile jsonb NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE TABLE metadata (
  key text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE TABLE telemetry (
  id bigserial PRIMARY KEY,
  sensor_id text NOT NULL,
  ts timestamptz NOT NULL,
  value double precision,
  data jsonb,
  processed boolean NOT NULL DEFAULT false
);
CREATE TABLE invoices (
  id uuid PRIMARY KEY,
  user_id int,
  number text NOT NULL UNIQUE,
  amount numeric(14,2) NOT NULL,
  currency char(3) NOT NULL,
  status invoice_status NOT NULL,
  issued_on date NOT NULL,
  paid_at timestamptz,
  tags text[],
  pdf bytea,
  updated_at timestamptz NOT NULL
);
CREATE TABLE audit_log (
  at timestamptz NOT NULL,
  actor text,
  action text NOT NULL,
  detail json
);
`

export interface FixtureSize {
  users: number
  telemetry: number
  invoices?: number
}

/** Creates and fills the legacy schema (deterministic: the same data every run). */
export async function seedLegacy(client: pg.Client, size: FixtureSize): Promise<void> {
  await client.query(LEGACY_SCHEMA)
  const u = size.users
  await client.query(`
    INSERT INTO users (username, email, created_at)
      SELECT 'user' || i, 'user' || i || '@example.org', timestamptz '2023-01-01 00:00:00+00' + i * interval '1 hour 0.123456 second'
      FROM generate_series(1, ${u}) i;
    INSERT INTO sessions (token, user_id, created_at, expires_at, revoked_at)
      SELECT md5('session' || i), 1 + (i % ${u}), timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute',
             timestamptz '2024-02-01 00:00:00+00' + i * interval '1 minute', CASE WHEN i % 7 = 0 THEN timestamptz '2024-01-15 00:00:00+00' END
      FROM generate_series(1, ${u * 2}) i;
    INSERT INTO billing (user_id, credits, usage, updated_at)
      SELECT i, (i * 37) % 1000, (i * 11) % 500, timestamptz '2024-03-01 00:00:00+00' + i * interval '1 second' FROM generate_series(1, ${u}) i;
    INSERT INTO credit_transactions (user_id, idempotency_key, kind, amount, credits_after, usage_after, created_at)
      SELECT 1 + (i % ${u}), 'key-' || i, CASE WHEN i % 3 = 0 THEN 'consume' ELSE 'add' END, i % 50, i % 1000, i % 300,
             timestamptz '2024-03-01 00:00:00+00' + i * interval '1 second'
      FROM generate_series(1, ${u * 3}) i;
    INSERT INTO profiles (id, user_id, profile, updated_at)
      SELECT md5('profile' || i)::uuid, CASE WHEN i % 10 = 0 THEN NULL ELSE 1 + (i % ${u}) END,
             jsonb_build_object('name', 'Ünïcødé 🌊 ' || i, 'tags', jsonb_build_array('a', i), 'big', 12345678901234567890),
             timestamptz '2024-04-01 00:00:00+00' + i * interval '1 second'
      FROM generate_series(1, ${u}) i;
    INSERT INTO metadata (key, value, updated_at)
      SELECT 'setting.' || i, jsonb_build_object('v', i, 'on', i % 2 = 0), timestamptz '2024-05-01 00:00:00+00' FROM generate_series(1, 50) i;
    INSERT INTO telemetry (sensor_id, ts, value, data, processed)
      SELECT 'sensor-' || (i % 97), timestamptz '2024-06-01 00:00:00+00' + i * interval '1.000001 second',
             CASE WHEN i % 1000 = 0 THEN NULL ELSE (i % 1000) / 7.0 END,
             CASE WHEN i % 5 = 0 THEN NULL ELSE jsonb_build_object('i', i, 'unit', 'C') END, i % 3 = 0
      FROM generate_series(1, ${size.telemetry}) i;
    INSERT INTO invoices (id, user_id, number, amount, currency, status, issued_on, paid_at, tags, pdf, updated_at)
      SELECT md5('invoice' || i)::uuid, 1 + (i % ${u}), 'INV-' || lpad(i::text, 6, '0'), (i * 1234.56) % 100000, 'EUR',
             (ARRAY['draft', 'sent', 'paid', 'void'])[1 + i % 4]::invoice_status, date '2024-01-01' + i,
             CASE WHEN i % 4 = 2 THEN timestamptz '2024-02-01 12:00:00+00' + i * interval '1 day' END,
             CASE WHEN i % 3 = 0 THEN ARRAY['net30', 'tag ' || i] END, decode(md5('pdf' || i), 'hex'),
             timestamptz '2024-06-01 00:00:00+00' + i * interval '1 second'
      FROM generate_series(1, ${size.invoices ?? u}) i;
    INSERT INTO audit_log (at, actor, action, detail)
      SELECT timestamptz '2024-01-01 00:00:00+00' + (i % 10) * interval '1 minute', CASE WHEN i % 4 = 0 THEN NULL ELSE 'user' || i END,
             'login', json_build_object('ip', '10.0.0.' || (i % 250))
      FROM generate_series(1, 200) i;
    ANALYZE;
  `)
}
