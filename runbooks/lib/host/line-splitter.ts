// Output of a remote or local command: kept (the tail, bounded) for results and error
// messages, and handed line by line to a progress callback as it arrives.
export interface LineCollector {
  push(chunk: Buffer): void
  text(): string
}

export function collectLines(
  stream: 'stdout' | 'stderr',
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void,
  maxBytes = 4 * 1024 * 1024,
): LineCollector {
  const kept: Buffer[] = []
  let keptBytes = 0
  let partial = ''
  return {
    push(chunk) {
      if (maxBytes > 0) {
        kept.push(chunk)
        keptBytes += chunk.length
        while (keptBytes > maxBytes && kept.length > 1) keptBytes -= kept.shift()!.length
      }
      if (onLine) {
        const lines = (partial + chunk.toString('utf8')).split('\n')
        partial = lines.pop() ?? ''
        for (const l of lines) onLine(l, stream)
      }
    },
    text() {
      if (onLine && partial) {
        onLine(partial, stream)
        partial = ''
      }
      return Buffer.concat(kept).toString('utf8')
    },
  }
}
