-- The old Ocean app's operational data: users, sessions, billing, profiles, metadata.
-- Deterministic: every value derives from the row number, so two seeds of the same size are equal
-- row for row. psql variable: users.
\set ON_ERROR_STOP 1
SET ROLE ocean;
SET synchronous_commit = off;

-- Users: one every five minutes from 2024-01-01; every 50th e-mail in mixed case (still unique
-- case-insensitively, as the new service requires).
INSERT INTO users (id, username, email, created_at, updated_at)
SELECT i, u.name, CASE WHEN i % 50 = 0 THEN initcap(u.name) || '@Example.COM' ELSE u.name || '@' || (ARRAY['example.com', 'example.org', 'mail.example.net'])[1 + i % 3] END,
       c.created, c.created + make_interval(days => i % 40, secs => i % 3600)
FROM generate_series(1, :users) AS i,
     LATERAL (SELECT (ARRAY['anna', 'ben', 'clara', 'dritan', 'elif', 'femi', 'greta', 'hiro', 'ines', 'jonas', 'kaja', 'luca'])[1 + i % 12] || '.' || i AS name) u,
     LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00' + make_interval(secs => i * 300) AS created) c;
SELECT setval('users_id_seq', (SELECT max(id) FROM users));

-- One to three sessions per user; tokens are hex digests; some revoked, most long expired.
INSERT INTO sessions (token, user_id, created_at, expires_at, revoked_at)
SELECT encode(sha256(convert_to('lab-session:' || u.id || ':' || k, 'UTF8')), 'hex'), u.id,
       u.created_at + make_interval(days => k), u.created_at + make_interval(days => k + 30),
       CASE WHEN (u.id + k) % 7 = 0 THEN u.created_at + make_interval(days => k + 1) END
FROM users u, LATERAL generate_series(1, 1 + u.id % 3) AS k;

INSERT INTO billing (user_id, credits, usage, updated_at)
SELECT id, (id::bigint * 7919) % 100000, (id::bigint * 104729) % 50000, created_at + make_interval(days => id % 90)
FROM users;

-- Profiles for four users in five; names with accents, some never updated since the user was made.
INSERT INTO profiles (id, user_id, profile, updated_at)
SELECT 'prf_' || substr(md5('profile:' || u.id), 1, 16), u.id,
       jsonb_build_object(
         'display_name', (ARRAY['Anna Berisha', 'Ben Okafor', 'Clara Müller', 'Dritan Hoxha', 'Elif Yıldız', 'Femi Adeyemi',
                                'Greta Ølstad', 'Hiro Tanaka', 'Inês Gonçalves', 'Jonas Weiß', 'Kaja Nowak', 'Luca Rossi'])[1 + u.id % 12],
         'locale', (ARRAY['en', 'de', 'sq', 'fr', 'ja', 'pt'])[1 + u.id % 6],
         'timezone', (ARRAY['Europe/Berlin', 'Europe/Tirane', 'UTC', 'Asia/Tokyo'])[1 + u.id % 4],
         'preferences', jsonb_build_object('units', CASE WHEN u.id % 9 = 0 THEN 'imperial' ELSE 'metric' END,
                                           'alerts', u.id % 2 = 0, 'digest_hour', u.id % 24),
         'tags', to_jsonb((ARRAY['ocean', 'buoy', 'coastal', 'research', 'beta'])[1:1 + u.id % 5])),
       CASE WHEN u.id % 11 = 0 THEN u.created_at ELSE u.updated_at END
FROM users u
WHERE u.id % 5 <> 0;

INSERT INTO metadata (key, value, updated_at) VALUES
  ('schema_version', '"2.14.3"', '2024-06-01 12:00:00+00'),
  ('ingest', '{"batch_size": 500, "workers": 4, "retention_days": 400}', '2024-06-01 12:00:00+00'),
  ('maintenance_window', '{"day": "sunday", "start": "02:00", "tz": "Europe/Berlin"}', '2024-01-01 00:00:00+00');
INSERT INTO metadata (key, value, updated_at)
SELECT 'sensor:sensor-' || lpad(s::text, 4, '0'),
       jsonb_build_object('lat', round((40 + (s % 90) / 10.0)::numeric, 4), 'lon', round((19 + (s % 70) / 10.0)::numeric, 4),
                          'depth_m', s % 40, 'installed', to_char(date '2023-01-01' + s, 'YYYY-MM-DD')),
       timestamptz '2024-01-01 00:00:00+00' + make_interval(days => s % 200)
FROM generate_series(0, 499) AS s;
