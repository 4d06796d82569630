// Reading a Prometheus text exposition in tests.

/** The sum of the samples of `name` whose labels include `match`; NaN when there is none. */
export function metricValue(text: string, name: string, match: Record<string, string> = {}): number {
  let sum = NaN
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]))
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) sum = (Number.isNaN(sum) ? 0 : sum) + Number(m[3])
  }
  return sum
}
