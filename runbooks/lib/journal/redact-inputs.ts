// Inputs go into the journal minus secrets: any key that names a secret, and any URL password.
const SECRET_KEY = /pass(word)?|secret|token|api[_-]?key|private[_-]?key|credential/i

export function redactInputs(value: unknown, depth = 0): unknown {
  if (depth > 8) return '…'
  if (typeof value === 'string') return value.replace(/(\/\/[^:/@\s]*:)[^@\s]+@/g, '$1***@')
  if (Array.isArray(value)) return value.map((v) => redactInputs(v, depth + 1))
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      // A reference such as env:HCLOUD_TOKEN says where a secret lives, not what it is: keep it.
      const isRef = typeof v === 'string' && /^(env|file):/.test(v)
      out[k] = SECRET_KEY.test(k) && !isRef && v !== undefined && v !== null ? '***' : redactInputs(v, depth + 1)
    }
    return out
  }
  return value
}
