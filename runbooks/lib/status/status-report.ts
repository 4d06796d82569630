// The status model as one screen of text (a block per section, a line per item, what to do under
// anything wrong, the verdict last) or as JSON; and the pass that keeps secrets out of both.
import { SECTION_TITLES, type Item, type Level, type Sections, type StatusModel } from './status-model.ts'

const MARK: Record<Level, string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: '--' }

/** The screen `ocean-ops status` prints. */
export function statusScreen(m: StatusModel, o: { journalPath?: string; url?: string } = {}): string {
  const sections = Object.entries(SECTION_TITLES) as Array<[keyof Sections, string]>
  const items = sections.flatMap(([k]) => m[k] as Item[])
  const width = Math.min(28, Math.max(8, ...items.map((i) => i.label.length)))
  const lines = [`ocean-ops status: stack ${m.stack}, ${m.at.slice(0, 19).replace('T', ' ')}Z (${(m.tookMs / 1000).toFixed(1)} s)`]
  for (const [k, title] of sections) {
    const list = m[k] as Item[]
    if (list.length === 0) continue
    const where = k === 'journal' && o.journalPath ? ` (${o.journalPath})` : k === 'service' && o.url ? ` (${o.url})` : ''
    lines.push('', `${title}${where}`)
    for (const i of list) {
      lines.push(`  ${MARK[i.level].padEnd(4)}  ${i.label.length > width ? `${i.label}\n${' '.repeat(width + 8)}` : i.label.padEnd(width)}  ${i.reason}`)
      if (i.todo && (i.level === 'fail' || i.level === 'warn')) lines.push(`${' '.repeat(width + 10)}-> ${i.todo}`)
    }
  }
  lines.push('', verdictLine(m))
  return lines.join('\n')
}

export function verdictLine(m: StatusModel): string {
  const count = (l: Level) => (Object.keys(SECTION_TITLES) as Array<keyof Sections>).flatMap((k) => m[k] as Item[]).filter((i) => i.level === l).length
  if (m.verdict === 'ok') return 'OK: everything checked is fine'
  if (m.verdict === 'warn') return `OK with ${count('warn')} warning(s): nothing is down; see WARN above`
  return `FAIL: ${count('fail')} problem(s)${count('warn') ? `, ${count('warn')} warning(s)` : ''}; see FAIL above`
}

/** The model as `--json` prints it. */
export function statusJson(m: StatusModel): string {
  return `${JSON.stringify(m, null, 2)}\n`
}

/**
 * A copy of `value` with every occurrence of each secret replaced by `***`. The model is built
 * from facts that hold no secret; this is the second line: an error text that quoted one (a URL
 * with a token, a command line) is cleaned before anything is printed.
 */
export function redactSecrets<T>(value: T, secrets: Array<string | undefined>): T {
  const known = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 4))].sort((a, b) => b.length - a.length)
  if (known.length === 0) return value
  const clean = (s: string) => known.reduce((acc, k) => acc.split(k).join('***'), s)
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return clean(v)
    if (Array.isArray(v)) return v.map(walk)
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]))
    return v
  }
  return walk(value) as T
}

/** A URL as it may be shown: without a user or password in it. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url)
    if (!u.username && !u.password) return url
    u.username = ''
    u.password = ''
    return u.toString().replace(/\/$/, url.endsWith('/') ? '/' : '')
  } catch {
    return url
  }
}
