-- One slice (rows lo..hi) of the telemetry table; ocean-lab-seed loads slices side by side.
-- psql variables: telemetry (total rows, which spreads the timestamps over the year), lo, hi.
\set ON_ERROR_STOP 1
SET ROLE ocean;
SET synchronous_commit = off;

-- Telemetry: 500 sensors over a year, roughly in time order; every 1000th value and every 777th
-- payload missing; the newest 5 % not processed yet.
INSERT INTO telemetry (id, sensor_id, ts, value, data, processed)
SELECT i, 'sensor-' || lpad((i % 500)::text, 4, '0'),
       timestamptz '2024-01-01 00:00:00+00' + make_interval(secs => i * (31536000.0 / :telemetry) + (i * 7919) % 5),
       CASE WHEN i % 1000 = 0 THEN NULL ELSE round((15 + 10 * sin(i / 5000.0) + ((i * 7919) % 100) / 50.0)::numeric, 3)::float8 END,
       CASE WHEN i % 777 = 0 THEN NULL ELSE jsonb_build_object('unit', 'C', 'battery', 100 - (i / 1000) % 100, 'rssi', -40 - i % 50, 'fw', 'v1.' || i % 4) END,
       i <= :telemetry * 0.95
FROM generate_series(:lo::bigint, :hi) AS i;
