// Local files that hold secrets or that other runs read (inventories, lab state): written whole or
// not at all, owner-only from the first byte.
import { randomBytes } from 'node:crypto'
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

/** Writes a sibling temp file (0600 from the start), syncs it, and renames it over the target,
 *  so a reader never sees a half-written file and the file is never world-readable. */
export function writeFileAtomic(path: string, content: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const fd = openSync(tmp, 'wx', 0o600)
  try {
    fchmodSync(fd, 0o600) // in case the umask took bits away from the owner
    writeSync(fd, content)
    fsyncSync(fd)
    closeSync(fd)
    renameSync(tmp, path)
  } catch (e) {
    try { closeSync(fd) } catch { /* already closed */ }
    rmSync(tmp, { force: true })
    throw e
  }
}
