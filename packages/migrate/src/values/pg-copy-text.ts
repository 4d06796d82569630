// Parser for PostgreSQL's COPY ... TO STDOUT text format: one row per line, columns split by tab,
// NULL written as \N, backslash escapes for tab, newline and friends. Streaming: fed Buffers as
// they arrive (a UTF-8 character may straddle two), it emits rows. Pure; unit-tested.

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' }

export function unescapeCopyField(field: string): string {
  return field.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
    if (e[0] === 'x' && e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16))
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8))
    return ESCAPES[e] ?? e
  })
}

export type CopyRow = (string | null)[]

export function parseCopyLine(line: string): CopyRow {
  const fields: CopyRow = line.split('\t')
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as string
    if (f.length > 0 && f.includes('\\')) fields[i] = f === '\\N' ? null : unescapeCopyField(f)
  }
  return fields
}

export class CopyTextParser {
  private rest: Buffer | null = null
  rows = 0
  bytes = 0

  constructor(private readonly onRow: (row: CopyRow) => void) {}

  push(chunk: Buffer): void {
    this.bytes += chunk.length
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk
    const last = buf.lastIndexOf(10)
    if (last < 0) {
      this.rest = buf
      return
    }
    const text = buf.toString('utf8', 0, last)
    this.rest = last + 1 < buf.length ? buf.subarray(last + 1) : null
    let start = 0
    for (;;) {
      const nl = text.indexOf('\n', start)
      const line = nl < 0 ? text.slice(start) : text.slice(start, nl)
      this.onRow(parseCopyLine(line))
      this.rows++
      if (nl < 0) break
      start = nl + 1
    }
  }

  end(): void {
    if (this.rest && this.rest.length > 0) throw new Error(`COPY output ended in the middle of a row (${this.rest.length} bytes left)`)
  }
}
