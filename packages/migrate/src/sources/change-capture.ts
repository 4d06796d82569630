// The old database's change log, for a final sync in O(changes): statement triggers on every user
// table write the primary key of each row inserted, updated (old and new key) or deleted, and a mark
// for a TRUNCATE or a table without a primary key, into ocean_ops.changes, tagged with the writing
// transaction's id. A position is a transaction snapshot: the changes after it are the ones written
// by transactions it does not see, so a transaction that began before it and committed after is
// not missed (an id sequence would be: ids are taken at insert, committed out of order).
//
// Why triggers: logical decoding needs wal_level=logical (a PostgreSQL restart on the old server),
// an xmin scan reads the whole table and cannot see deletes. Statement triggers with transition
// tables add one INSERT ... SELECT per write statement, not one per row. `cutover` installs them
// just before its pre-sync and the rollback removes them (the old side serves again without them).
// PostgreSQL 13 or later (pg_current_xact_id, pg_snapshot).

export const CAPTURE_SCHEMA = 'ocean_ops'

/** Each trigger and what it fires on (transition tables: one log statement per write statement). */
const TRIGGER_SPECS = [
  ['ocean_ops_ins', 'AFTER INSERT', 'REFERENCING NEW TABLE AS new_rows '],
  ['ocean_ops_upd', 'AFTER UPDATE', 'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '],
  ['ocean_ops_del', 'AFTER DELETE', 'REFERENCING OLD TABLE AS old_rows '],
  ['ocean_ops_trunc', 'AFTER TRUNCATE', ''],
] as const
const TRIGGERS = TRIGGER_SPECS.map(([name]) => name)

/** The install loop's body: each trigger created on table r unless it is there. */
const TRIGGER_BLOCKS = TRIGGER_SPECS.map(
  ([name, when, refs]) => `    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = r.oid AND tgname = '${name}') THEN
      EXECUTE format('CREATE TRIGGER ${name} ${when} ON %I.%I ${refs}FOR EACH STATEMENT EXECUTE FUNCTION ocean_ops.log_rows()', r.nspname, r.relname);
    END IF;`,
).join('\n')

/**
 * Installs (or completes) the change log on every ordinary table of the user schemas; idempotent.
 * `reader`: the role the migration engine connects as, given read access to the log.
 */
export function captureInstallSql(reader: string): string {
  const role = `"${reader.replace(/"/g, '""')}"`
  return `
CREATE SCHEMA IF NOT EXISTS ocean_ops;
CREATE TABLE IF NOT EXISTS ocean_ops.changes (
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  schema_name text NOT NULL,
  table_name text NOT NULL,
  op "char" NOT NULL,
  key jsonb
);
CREATE INDEX IF NOT EXISTS changes_xid ON ocean_ops.changes (xid);
CREATE TABLE IF NOT EXISTS ocean_ops.capture (epoch text PRIMARY KEY, installed_at timestamptz NOT NULL DEFAULT now());
INSERT INTO ocean_ops.capture (epoch) SELECT gen_random_uuid()::text WHERE NOT EXISTS (SELECT 1 FROM ocean_ops.capture);
-- Key text as the migration engine reads it (its session settings), whatever the writer's session says.
CREATE OR REPLACE FUNCTION ocean_ops.log_rows() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET DateStyle = 'ISO, YMD' SET extra_float_digits = 1
  SET bytea_output = 'hex' SET IntervalStyle = 'postgres' AS $f$
DECLARE cols text;
BEGIN
  SELECT string_agg(format('%I::text', a.attname), ', ' ORDER BY k.ord) INTO cols
    FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = TG_RELID AND i.indisprimary;
  IF cols IS NULL OR TG_OP = 'TRUNCATE' THEN
    INSERT INTO ocean_ops.changes (schema_name, table_name, op, key) VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'T', NULL);
    RETURN NULL;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    EXECUTE format('INSERT INTO ocean_ops.changes (schema_name, table_name, op, key) SELECT %L, %L, %L, jsonb_build_array(%s) FROM new_rows', TG_TABLE_SCHEMA, TG_TABLE_NAME, left(TG_OP, 1), cols);
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    EXECUTE format('INSERT INTO ocean_ops.changes (schema_name, table_name, op, key) SELECT %L, %L, %L, jsonb_build_array(%s) FROM old_rows', TG_TABLE_SCHEMA, TG_TABLE_NAME, left(TG_OP, 1), cols);
  END IF;
  RETURN NULL;
END $f$;
DO $d$ DECLARE r record; BEGIN
  FOR r IN SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'ocean_ops') AND n.nspname NOT LIKE 'pg\\_%'
  LOOP
${TRIGGER_BLOCKS}
  END LOOP;
END $d$;
GRANT USAGE ON SCHEMA ocean_ops TO ${role};
GRANT SELECT ON ocean_ops.changes, ocean_ops.capture TO ${role};
SELECT count(DISTINCT tgrelid) FROM pg_trigger WHERE tgname = 'ocean_ops_ins';`
}

/** Removes the triggers and the log (a new install starts a new epoch, so no position from before it is trusted). */
export function captureRemoveSql(): string {
  return `
DO $d$ DECLARE r record; BEGIN
  FOR r IN SELECT t.tgname, n.nspname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE t.tgname IN (${TRIGGERS.map((t) => `'${t}'`).join(', ')})
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %I.%I', r.tgname, r.nspname, r.relname);
  END LOOP;
END $d$;
DROP SCHEMA IF EXISTS ocean_ops CASCADE;`
}

/** Where a run started reading: changes after it are what the next run must carry. */
export interface ChangePosition {
  /** pg_current_snapshot() as text, taken before the run read anything. */
  snapshot: string
  /** The install the log belongs to: a position of another install says nothing about this log. */
  epoch: string
  /** schema.table of every table with all four triggers when the position was taken. */
  tables: string[]
}

/** The position now (null when no change log is installed). */
export function positionSql(): string {
  return `SELECT pg_current_snapshot()::text AS snapshot,
  (SELECT epoch FROM ocean_ops.capture LIMIT 1) AS epoch,
  (SELECT coalesce(json_agg(n.nspname || '.' || c.relname), '[]') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname IN (${TRIGGERS.map((t) => `'${t}'`).join(', ')})) = ${TRIGGERS.length})::text AS tables`
}

export const CAPTURE_PRESENT_SQL = "SELECT to_regclass('ocean_ops.capture') IS NOT NULL AS present"

/** The changes written by transactions the position's snapshot does not see ($1: the snapshot). */
export const CHANGES_SINCE_SQL = `SELECT schema_name, table_name, op::text AS op, key::text AS key FROM ocean_ops.changes
  WHERE xid >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(xid, $1::pg_snapshot)`

export interface TableChanges {
  /** Distinct primary keys (as the source's key text) inserted, updated or deleted. */
  keys: string[][]
  /** Rows logged per operation (I, U, D). */
  ops: { I: number; U: number; D: number }
  /** A TRUNCATE, or writes to a table without a primary key: only a whole-table pass can tell. */
  whole: boolean
}

/** Groups change rows per schema.table (pure; unit-tested). */
export function groupChanges(rows: Array<{ schema_name: string; table_name: string; op: string; key: string | null }>): Map<string, TableChanges> {
  const out = new Map<string, TableChanges & { seen: Set<string> }>()
  for (const r of rows) {
    const id = `${r.schema_name}.${r.table_name}`
    let t = out.get(id)
    if (!t) out.set(id, (t = { keys: [], ops: { I: 0, U: 0, D: 0 }, whole: false, seen: new Set() }))
    if (r.op === 'T' || r.key === null) {
      t.whole = true
      continue
    }
    if (r.op === 'I' || r.op === 'U' || r.op === 'D') t.ops[r.op]++
    if (t.seen.has(r.key)) continue
    t.seen.add(r.key)
    t.keys.push(JSON.parse(r.key) as string[])
  }
  return new Map([...out].map(([k, { seen: _seen, ...v }]) => [k, v]))
}

/**
 * Whether the database is frozen (read-only by default for new sessions, as `cutover` sets it), and
 * how many sessions still hold a write transaction (a session the freeze ended may take a moment to
 * go: until it has, a write of it could still commit).
 */
export const FROZEN_SQL = `SELECT EXISTS (SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
    WHERE d.datname = current_database() AND s.setrole = 0 AND 'default_transaction_read_only=on' = ANY (s.setconfig)) AS frozen,
  (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL)::int AS writers`

/** The application_name of the engine's sessions: the freeze leaves them (they only read) so a waiting engine keeps its connections. */
export const ENGINE_APPLICATION_NAME = 'ocean-ops migrate-data'
