// The data files hold users, sessions and telemetry: only the service's user may read them. The
// data directory is made 0700 and the database files (and their WAL/SHM companions) 0600, also
// when an older version created them world-readable. The process's umask (main.ts) covers the
// files the databases create later.
import fs from 'node:fs'
import path from 'node:path'

const DATA_FILE = /^(ocean\.db|telemetry\.duckdb)(-wal|-shm|\.wal)?$/

export function keepPrivate(dataDir: string): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  fs.chmodSync(dataDir, 0o700)
  for (const name of fs.readdirSync(dataDir)) {
    if (DATA_FILE.test(name)) fs.chmodSync(path.join(dataDir, name), 0o600)
  }
}
