// Host-key pinning from an OpenSSH known_hosts file. Runbooks never trust on first use: the
// Pulumi stack (or the lab) provides the line, and an unknown or changed key is refused.
import crypto from 'node:crypto'

export interface KnownHostEntry {
  marker?: '@revoked' | '@cert-authority'
  patterns: string[]
  keyType: string
  key: Buffer
}

export type HostKeyVerdict =
  | { ok: true }
  | { ok: false; reason: 'unknown' | 'changed' | 'revoked'; fingerprint: string; expected: string[] }

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const fields = line.split(/\s+/)
    let marker: KnownHostEntry['marker']
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostEntry['marker']
    const [hosts, keyType, b64] = fields
    if (!hosts || !keyType || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) continue
    entries.push({ marker, patterns: hosts.split(','), keyType, key: Buffer.from(b64, 'base64') })
  }
  return entries
}

/** How OpenSSH names a host in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${body}$`, 'i')
}

function matchesPattern(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    // Hashed entry: |1|base64(salt)|base64(HMAC-SHA1(salt, name))
    const [, , salt, hash] = pattern.split('|')
    if (!salt || !hash) return false
    const mac = crypto.createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64')
    return mac === hash
  }
  return globToRegExp(pattern).test(name)
}

function entryMatches(entry: KnownHostEntry, name: string): boolean {
  let matched = false
  for (const p of entry.patterns) {
    if (p.startsWith('!')) {
      if (matchesPattern(p.slice(1), name)) return false
    } else if (matchesPattern(p, name)) matched = true
  }
  return matched
}

/** SHA256 fingerprint as `ssh-keygen -l` prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${crypto.createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`
}

/** The key type inside an SSH public key blob (string length-prefixed). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return ''
  const n = key.readUInt32BE(0)
  return key.subarray(4, 4 + n).toString('latin1')
}

export function verifyHostKey(entries: KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = knownHostsName(host, port)
  const fp = fingerprint(key)
  const forHost = entries.filter((e) => e.marker !== '@cert-authority' && entryMatches(e, name))
  if (forHost.some((e) => e.marker === '@revoked' && e.key.equals(key))) {
    return { ok: false, reason: 'revoked', fingerprint: fp, expected: [] }
  }
  const pinned = forHost.filter((e) => e.marker === undefined)
  if (pinned.some((e) => e.key.equals(key))) return { ok: true }
  return {
    ok: false,
    reason: pinned.length ? 'changed' : 'unknown',
    fingerprint: fp,
    expected: pinned.map((e) => `${e.keyType} ${fingerprint(e.key)}`),
  }
}

/** What the operator should do about a refused key: how to verify it and add it. */
export function hostKeyAdvice(verdict: Exclude<HostKeyVerdict, { ok: true }>, host: string, port: number, file: string): string {
  const name = knownHostsName(host, port)
  const check = `compare it with the fingerprint from a trusted source (the Pulumi output \`knownHosts\`, the Hetzner console, or \`ssh-keyscan -p ${port} ${host} | ssh-keygen -lf -\` run from a trusted network)`
  switch (verdict.reason) {
    case 'unknown':
      return `the host key of ${name} (${verdict.fingerprint}) is not in ${file}. Do not connect blindly: ${check}, then add its known_hosts line to ${file} (for a Pulumi stack: \`ocean-ops inventory --from-pulumi\` writes it).`
    case 'changed':
      return `HOST KEY CHANGED for ${name}: it offered ${verdict.fingerprint} but ${file} pins ${verdict.expected.join(', ')}. This is either a rebuilt server or someone in the middle. Stop and find out which; only if the server was rebuilt, ${check}, then replace the line (\`ssh-keygen -R '${name}' -f ${file}\`, then add the new one).`
    case 'revoked':
      return `the host key of ${name} (${verdict.fingerprint}) is marked @revoked in ${file}: refusing to connect.`
  }
}
