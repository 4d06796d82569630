-- After the bulk load: telemetry's key and index, sequences past the seeded ids, statistics.
\set ON_ERROR_STOP 1
SET ROLE ocean;
ALTER TABLE telemetry ADD PRIMARY KEY (id);
CREATE INDEX telemetry_sensor_ts ON telemetry (sensor_id, ts);
SELECT setval('telemetry_id_seq', greatest((SELECT max(id) FROM telemetry), 1));

RESET ROLE;
ANALYZE;
