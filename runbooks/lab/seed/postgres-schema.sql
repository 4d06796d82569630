-- The old Ocean app's schema (run as postgres in database ocean; objects owned by ocean).
-- Keys and indexes of the big telemetry table come in postgres-finish.sql, after the bulk load.
\set ON_ERROR_STOP 1
SET ROLE ocean;

CREATE TABLE users (
  id serial PRIMARY KEY,
  username text NOT NULL UNIQUE,
  email text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE sessions (
  token text PRIMARY KEY,
  user_id integer NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE TABLE billing (
  user_id integer PRIMARY KEY REFERENCES users (id),
  credits bigint NOT NULL DEFAULT 0 CHECK (credits >= 0),
  usage bigint NOT NULL DEFAULT 0 CHECK (usage >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- The legacy app never declared this foreign key.
CREATE TABLE profiles (
  id text PRIMARY KEY,
  user_id integer,
  profile jsonb NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE metadata (
  key text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE telemetry (
  id bigserial,
  sensor_id text NOT NULL,
  ts timestamptz NOT NULL,
  value double precision,
  data jsonb,
  processed boolean DEFAULT false
);
