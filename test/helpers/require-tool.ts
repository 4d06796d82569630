// A tool a test needs, found on PATH or the test fails at once with the command that installs it
// (never skipped: under CI=true nothing is).
import fs from 'node:fs'
import path from 'node:path'

export function requireTool(name: string, install: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, name)
    if (dir && fs.existsSync(p)) return p
  }
  throw new Error(`${name} is not installed: ${install}`)
}
