// The Debian mirror this machine already uses, read from its apt sources: debootstrap must use
// the same one (our machines reach only their own mirror), so it is never hard-coded.
import fs from 'node:fs'
import { OpsError } from '@ocean-ops/common'

/** First `URIs:` of a deb822 stanza (or `deb URL bookworm` line) serving the main archive, not security. */
export function parseAptMirror(sources: string): string | undefined {
  for (const stanza of sources.split(/\n\s*\n/)) {
    const uris = /^URIs:\s*(\S+)/m.exec(stanza)?.[1]
    const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1] ?? ''
    if (uris && /^Types:.*\bdeb\b/m.test(stanza) && !/security/.test(suites) && !/security/.test(uris)) return uris
  }
  for (const line of sources.split('\n')) {
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim())
    if (m && !/security/.test(m[1]!) && !/security/.test(m[2]!)) return m[1]
  }
  return undefined
}

export function aptMirror(): string {
  const files = ['/etc/apt/sources.list']
  try {
    for (const f of fs.readdirSync('/etc/apt/sources.list.d')) files.push(`/etc/apt/sources.list.d/${f}`)
  } catch {
    // no sources.list.d: only sources.list
  }
  const text = files.map((f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '')).join('\n\n')
  const mirror = parseAptMirror(text)
  if (!mirror) {
    throw new OpsError('OPS_E_CONFIG', 'no Debian mirror found in /etc/apt/sources.list{,.d}: the lab builds its images with debootstrap from the machine\'s own mirror; configure apt first')
  }
  return mirror
}
