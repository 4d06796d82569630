// Pure command builders for what the cutover and the rollback do on the old host: freeze and
// unfreeze writes (PostgreSQL read-only for every new transaction, the sessions that predate it
// ended so they reconnect under it; the old app's unit stopped or started), and the backup taken
// before the freeze, checked by listing it. Every argv runs under `sudo -n` over SSH.
import { shellQuote } from '../host/commands.ts'
import { captureInstallSql, captureRemoveSql, ENGINE_APPLICATION_NAME } from '@ocean-ops/migrate'

export interface OldDb {
  /** Database name, from the inventory's oldDatabase URL. */
  database: string
  /** The role the migration engine connects as (the URL's user): it reads the change log. */
  user?: string
}

export function dbName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''))
  if (!/^[A-Za-z0-9_][A-Za-z0-9_$-]*$/.test(name)) throw new Error(`database name ${JSON.stringify(name)} is not a plain identifier`)
  return name
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`
const literal = (v: string) => `'${v.replace(/'/g, "''")}'`

function psql(database: string, sql: string): string[] {
  return ['runuser', '-u', 'postgres', '--', 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', database, '-c', sql]
}

/**
 * Sessions of `database` other than ours end, so the app's pool reconnects under the new default;
 * the migration engine's stay (they only read: a warm final sync waits on them for this freeze).
 */
function endSessions(database: string): string {
  return `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = ${literal(database)} AND pid <> pg_backend_pid() AND application_name IS DISTINCT FROM ${literal(ENGINE_APPLICATION_NAME)}`
}

// Both run from the maintenance database: a session in the frozen one is read-only itself.
export function freezeDbArgv(db: OldDb): string[] {
  return psql('postgres', `ALTER DATABASE ${ident(db.database)} SET default_transaction_read_only = on; ${endSessions(db.database)}`)
}

export function unfreezeDbArgv(db: OldDb): string[] {
  return psql('postgres', `ALTER DATABASE ${ident(db.database)} RESET default_transaction_read_only; ${endSessions(db.database)}`)
}

/** Installs the change log (triggers into ocean_ops.changes) on every user table; prints how many tables it covers. */
export function captureChangesArgv(db: OldDb): string[] {
  if (!db.user) throw new Error('the old database URL names no user: the change log needs the role the migration engine reads it as')
  return psql(db.database, captureInstallSql(db.user))
}

/** Removes the change log (the old side serves again without its triggers). */
export function dropCaptureArgv(db: OldDb): string[] {
  return psql(db.database, captureRemoveSql())
}

export function unitArgv(action: 'stop' | 'start', unit: string): string[] {
  return ['systemctl', action, unit]
}

/**
 * pg_dump in the custom format into `file` (0600, root-owned directory), then the number of
 * TABLE DATA entries its listing holds: the check that the archive is whole and readable.
 */
export function backupArgv(db: OldDb, file: string): string[] {
  const dir = file.slice(0, file.lastIndexOf('/')) || '/'
  const script = [
    'set -eu',
    `install -d -m 0700 ${shellQuote(dir)}`,
    `runuser -u postgres -- pg_dump -Fc -d ${shellQuote(db.database)} > ${shellQuote(`${file}.part`)}`,
    `chmod 0600 ${shellQuote(`${file}.part`)}`,
    `mv ${shellQuote(`${file}.part`)} ${shellQuote(file)}`,
    `pg_restore --list ${shellQuote(file)} | grep -c ' TABLE DATA '`,
    `sha256sum ${shellQuote(file)} | cut -d' ' -f1`,
    `stat -c %s ${shellQuote(file)}`,
  ].join('\n')
  return ['sh', '-c', script]
}

/** The number of ordinary tables in the database's user schemas (what a whole backup must hold). */
export function tableCountArgv(db: OldDb): string[] {
  return psql(db.database, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')")
}

/**
 * Every sequence that feeds a column is moved past the column's largest value: rows the reverse
 * sync wrote with the new side's ids would otherwise collide with the old app's next inserts.
 */
export function advanceSequencesArgv(db: OldDb): string[] {
  const sql = `DO $$ DECLARE r record; m bigint; BEGIN
  FOR r IN SELECT n.nspname AS sch, s.relname AS seq, t.relname AS tbl, a.attname AS col
    FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
    JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')
    JOIN pg_class t ON t.oid = d.refobjid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
    WHERE s.relkind = 'S' LOOP
    EXECUTE format('SELECT max(%I) FROM %I.%I', r.col, r.sch, r.tbl) INTO m;
    IF m IS NOT NULL THEN
      PERFORM setval(format('%I.%I', r.sch, r.seq), greatest(m, (SELECT last_value FROM pg_sequences WHERE schemaname = r.sch AND sequencename = r.seq)));
    END IF;
  END LOOP; END $$`
  return psql(db.database, sql)
}
