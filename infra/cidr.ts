// CIDR parsing for the firewall and network config. Hetzner rejects a network whose host bits are
// set (203.0.113.4/24) with a terse API error at `pulumi up` time; we say so before any resource.
import { isIP } from 'node:net'

export interface Cidr {
  family: 4 | 6
  address: string
  prefix: number
  /** Canonical text, e.g. `203.0.113.4/32`. */
  text: string
}

/** Parses `a.b.c.d/n`, `x::y/n`, or a bare address (taken as a single host: /32 or /128). */
export function parseCidr(input: string): Cidr | string {
  const text = input.trim()
  const slash = text.indexOf('/')
  const address = slash < 0 ? text : text.slice(0, slash)
  const family = isIP(address)
  if (family !== 4 && family !== 6) return `"${input}" is not an IPv4 or IPv6 address or CIDR`
  const bits = family === 4 ? 32 : 128
  const prefixText = slash < 0 ? String(bits) : text.slice(slash + 1)
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) return `"${input}" has an invalid prefix length (0-${bits})`
  const prefix = Number(prefixText)
  const value = toBigInt(address, family)
  const hostMask = (1n << BigInt(bits - prefix)) - 1n
  if ((value & hostMask) !== 0n) return `"${input}" has host bits set; did you mean ${fromBigInt(value & ~hostMask, family)}/${prefix}?`
  return { family, address, prefix, text: `${address}/${prefix}` }
}

/** True for a rule that admits the whole internet (0.0.0.0/0 or ::/0). */
export function isOpenCidr(c: Cidr): boolean {
  return c.prefix === 0
}

/** True if the address lies inside the network. */
export function cidrContains(c: Cidr, address: string): boolean {
  const family = isIP(address)
  if (family !== c.family) return false
  const bits = family === 4 ? 32 : 128
  const shift = BigInt(bits - c.prefix)
  return toBigInt(address, family) >> shift === toBigInt(c.address, family) >> shift
}

function toBigInt(address: string, family: 4 | 6): bigint {
  if (family === 4) return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n)
  // Expand "::" and an embedded dotted IPv4 tail (::ffff:1.2.3.4) into eight 16-bit groups.
  let text = address
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4?.[1]) {
    const n = toBigInt(v4[1], 4)
    text = text.slice(0, -v4[1].length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n)
}

function fromBigInt(value: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.')
  const groups: string[] = []
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16))
  // Shorten the longest run of two or more zero groups to "::", as people write addresses.
  let bestAt = -1
  let bestLen = 1
  for (let i = 0; i < 8; i++) {
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i]
  }
  if (bestAt < 0) return groups.join(':')
  return `${groups.slice(0, bestAt).join(':')}::${groups.slice(bestAt + bestLen).join(':')}`
}
