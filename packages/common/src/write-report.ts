// Every runbook's report is written here: <dir>/<name>-<YYYYMMDDTHHMMSSZ>[-n].<ext> for each part
// (json first, then md, xml, …). The name is claimed by creating the .json exclusively, so two runs
// started in the same second (the final sync's SQLite and DuckDB sides, two drills in a row) get
// -2, -3, … instead of overwriting each other.
import fs from 'node:fs'
import path from 'node:path'

/** 2026-12-05T08:01:54.123Z -> 20261205T080154Z: one format for every report name. */
export function reportStamp(iso: string): string {
  const stamp = iso.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  if (!/^\d{8}T\d{6}Z$/.test(stamp)) throw new RangeError(`not an ISO 8601 UTC time: ${iso}`)
  return stamp
}

/** The parts of one report by file extension; `json` is required and written first. */
export type ReportParts = { json: string } & Record<string, string>

/** Writes the parts; returns each part's path by extension. */
export function writeReport(dir: string, name: string, startedAt: string, parts: ReportParts): Record<string, string> & { json: string } {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new RangeError(`bad report name ${JSON.stringify(name)}`)
  fs.mkdirSync(dir, { recursive: true })
  const stamp = reportStamp(startedAt)
  for (let n = 1; ; n++) {
    const base = path.join(dir, `${name}-${stamp}${n > 1 ? `-${n}` : ''}`)
    try {
      fs.writeFileSync(`${base}.json`, parts.json, { flag: 'wx' })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue
      throw e
    }
    const files: Record<string, string> & { json: string } = { json: `${base}.json` }
    for (const [ext, content] of Object.entries(parts)) {
      if (ext === 'json') continue
      files[ext] = `${base}.${ext}`
      fs.writeFileSync(files[ext], content)
    }
    return files
  }
}

/** A report object as its JSON part. */
export const reportJson = (r: unknown): string => JSON.stringify(r, null, 2) + '\n'
