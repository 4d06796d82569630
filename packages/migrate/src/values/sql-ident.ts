// Quoting of identifiers for the engines the migration talks to. PostgreSQL, SQLite and DuckDB take
// the standard double-quoted form; MySQL/MariaDB backquotes.

/** A double-quoted identifier (PostgreSQL, SQLite, DuckDB). */
export function quoteSqlIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** A backquoted identifier (MySQL, MariaDB). */
export function quoteMysqlIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``
}
